/** What the learner reads when a join fails: one clear sentence per situation. */
import { JoinError } from "./api";

export function joinFailureMessage(error: unknown): string {
  if (!(error instanceof JoinError)) return "Something went wrong. Please try again.";
  switch (error.kind) {
    case "not_available":
      return "No running workshop has that code — check the code or ask your instructor.";
    case "full":
      return "This workshop is full: every seat is taken. Ask your instructor for help.";
    case "rate_limited":
      return error.retryAfterSeconds !== null
        ? `Too many attempts. Please wait ${formatWait(error.retryAfterSeconds)} and try again.`
        : "Too many attempts. Please wait a moment and try again.";
    case "invalid_reconnect_code":
      return "That reconnect code doesn't match this workshop. Check both codes and try again.";
    case "invalid_input":
      return "That doesn't look like a workshop code. Check it and try again.";
    case "network":
      return "Can't reach ClaraTeach. Check your internet connection and try again.";
    case "server":
      return "ClaraTeach had a problem answering. Please try again in a moment.";
  }
}

export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? "" : "s"}`;
}
