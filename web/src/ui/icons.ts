/**
 * Inline SVG icons (issue 21: no emoji fonts needed). Built with createElementNS from fixed
 * path data: nothing here ever comes from a file name or the server.
 */
const SVG_NS = "http://www.w3.org/2000/svg";

const PATHS = {
  chevronRight: "M6 4l4 4-4 4",
  chevronDown: "M4 6l4 4 4-4",
  file: "M4 1.5h5l3 3v10H4z M9 1.5v3h3",
  folder: "M1.5 3.5h5l1.5 1.5h6.5v8h-13z",
  pencil: "M11 2l3 3-8 8H3v-3z",
  trash: "M2.5 4h11 M6 4V2.5h4V4 M4 4l.7 9.5h6.6L12 4",
  refresh: "M13 8a5 5 0 1 1-1.5-3.5 M13 2v3h-3",
  close: "M4 4l8 8 M12 4l-8 8",
  plus: "M8 3v10 M3 8h10",
  upload: "M8 11V3 M4.5 6.5L8 3l3.5 3.5 M3 13h10",
  changes: "M5 2v8 M2 5h6 M2 13h6 M11 6v8 M9 12l2 2 2-2",
} as const;

export type IconName = keyof typeof PATHS;

export function icon(name: IconName, className = "icon"): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  svg.dataset.icon = name;
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", PATHS[name]);
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "1.5");
  path.setAttribute("stroke-linecap", "round");
  path.setAttribute("stroke-linejoin", "round");
  svg.append(path);
  return svg;
}
