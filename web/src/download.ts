/**
 * "Download my work": fetch the workspace zip with the Authorization header (never a token
 * in a link) and hand the browser a blob to save.
 */
import type { FilesClient } from "./files/client";

/** `<workshop>-seat<n>.zip`, with the workshop name reduced to a safe file-name slug. */
export function archiveFileName(workshopName: string, workshopId: string, seat: number): string {
  const slug = workshopName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60);
  return `${slug || workshopId}-seat${seat}.zip`;
}

export async function downloadWorkspace(files: FilesClient, fileName: string): Promise<void> {
  const blob = await files.archive();
  const url = URL.createObjectURL(blob);
  try {
    const link = document.createElement("a");
    link.href = url;
    link.download = fileName;
    link.rel = "noopener";
    document.body.append(link);
    link.click();
    link.remove();
  } finally {
    // Revoke after the click has been dispatched; the download keeps its own reference.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
