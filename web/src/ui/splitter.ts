/**
 * A draggable divider between two panes, driving one CSS custom property on the layout
 * (e.g. `--sidebar-width`). Keyboard accessible: arrow keys move it in 5% steps.
 */
import { h } from "./dom";

export interface SplitterOptions {
  layout: HTMLElement;
  property: string;
  orientation: "vertical" | "horizontal"; // vertical = a left/right split
  label: string;
  /** Allowed range as fractions of the layout's size. */
  min: number;
  max: number;
  initial: number;
  /** The property sizes the pane after the bar (e.g. a right-hand pane), not before it. */
  fromEnd?: boolean;
  onResize?: () => void;
}

export function splitter(options: SplitterOptions): HTMLElement {
  const { layout, property, orientation, min, max } = options;
  let fraction = options.initial;
  const bar = h("div", {
    class: `splitter ${orientation}`,
    role: "separator",
    tabindex: "0",
    "aria-label": options.label,
    "aria-orientation": orientation,
    "aria-valuemin": Math.round(min * 100),
    "aria-valuemax": Math.round(max * 100),
  });
  const apply = (value: number) => {
    fraction = Math.min(max, Math.max(min, value));
    layout.style.setProperty(property, `${(fraction * 100).toFixed(2)}%`);
    bar.setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
    options.onResize?.();
  };
  apply(fraction);
  bar.addEventListener("pointerdown", (down) => {
    down.preventDefault();
    bar.setPointerCapture(down.pointerId);
    const rect = layout.getBoundingClientRect();
    const move = (event: PointerEvent) => {
      const at = orientation === "vertical" ? (event.clientX - rect.left) / rect.width : (event.clientY - rect.top) / rect.height;
      apply(options.fromEnd ? 1 - at : at);
    };
    const up = () => {
      bar.removeEventListener("pointermove", move);
      bar.removeEventListener("pointerup", up);
    };
    bar.addEventListener("pointermove", move);
    bar.addEventListener("pointerup", up);
  });
  bar.addEventListener("keydown", (event) => {
    const back = orientation === "vertical" ? "ArrowLeft" : "ArrowUp";
    const forward = orientation === "vertical" ? "ArrowRight" : "ArrowDown";
    const step = options.fromEnd ? -0.05 : 0.05;
    if (event.key === back) apply(fraction - step);
    else if (event.key === forward) apply(fraction + step);
    else return;
    event.preventDefault();
  });
  return bar;
}
