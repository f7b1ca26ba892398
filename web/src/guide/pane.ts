/**
 * The guide pane beside the editor and terminal: the workshop's steps one page at a time,
 * with Back/Next (the position lives on the agent, so it survives reloads, reconnects and
 * other devices), a Check button per step, and Copy / Run in terminal on every code block.
 * Page content is sanitised Markdown (./markdown.ts); every other string is set as text.
 */
import { FilesError } from "../files/client";
import { h } from "../ui/dom";
import { toast } from "../ui/toast";
import type { CheckResult, Guide, GuideClient, GuideProgress } from "./client";
import { renderMarkdown } from "./markdown";

export interface PasteTarget {
  /** Bracketed paste into the learner's shell; Enter afterwards only if `enter`. */
  pasteCommand(text: string, enter: boolean): void;
}

export class GuidePane {
  readonly element: HTMLElement;
  readonly expandButton: HTMLButtonElement;
  private readonly title = h("h2", { class: "guide-title", id: "guide-title" });
  private readonly stepLine = h("p", { class: "guide-step-line", id: "guide-step" });
  private readonly body = h("article", { class: "guide-body", id: "guide-body" });
  private readonly result = h("div", { class: "check-result", id: "check-result", role: "status", hidden: true });
  private readonly back = h("button", { type: "button", class: "btn", id: "guide-back" }, "Back");
  private readonly next = h("button", { type: "button", class: "btn primary", id: "guide-next" }, "Next");
  private readonly checkButton = h("button", { type: "button", class: "btn", id: "guide-check" }, "Check");
  private guide: Guide | null = null;
  private index = 0;
  private progress: GuideProgress = { step: 0, checks_passed: [] };
  private loading = 0;

  constructor(
    private readonly client: GuideClient,
    private readonly terminal: PasteTarget,
    private readonly onToggle: (collapsed: boolean) => void,
    private readonly storageKey: string,
  ) {
    const collapse = h("button", { type: "button", class: "btn ghost small", id: "guide-collapse", title: "Hide the guide" }, "Hide");
    this.expandButton = h("button", { type: "button", class: "btn", id: "guide-expand", hidden: true }, "Guide");
    this.element = h(
      "aside",
      { class: "guide-pane", id: "guide-pane", "aria-label": "Guide" },
      h("header", { class: "guide-head" }, this.title, collapse),
      this.stepLine,
      this.body,
      this.result,
      h("footer", { class: "guide-foot" }, this.back, this.checkButton, this.next),
    );
    collapse.addEventListener("click", () => this.setCollapsed(true));
    this.expandButton.addEventListener("click", () => this.setCollapsed(false));
    this.back.addEventListener("click", () => void this.go(this.index - 1));
    this.next.addEventListener("click", () => void this.go(this.index + 1));
    this.checkButton.addEventListener("click", () => void this.runCheck());
  }

  /** Load the guide; `false` (and nothing shown) when the workshop has no content. */
  async start(): Promise<boolean> {
    const guide = await this.client.guide();
    if (guide === null) return false;
    this.guide = guide;
    this.title.textContent = guide.title;
    this.progress = guide.progress;
    this.setCollapsed(localStorage.getItem(this.storageKey) === "collapsed");
    await this.show(Math.min(guide.progress.step, guide.steps.length - 1));
    return true;
  }

  private setCollapsed(collapsed: boolean): void {
    this.element.hidden = collapsed;
    this.expandButton.hidden = !collapsed;
    localStorage.setItem(this.storageKey, collapsed ? "collapsed" : "open");
    this.onToggle(collapsed);
  }

  private async go(index: number): Promise<void> {
    if (!this.guide || index < 0 || index >= this.guide.steps.length) return;
    try {
      this.progress = await this.client.setPosition(index);
    } catch (error) {
      toast(`Could not save your place: ${(error as Error).message}`, "error");
    }
    await this.show(index);
  }

  private async show(index: number): Promise<void> {
    const guide = this.guide;
    if (!guide) return;
    const ticket = ++this.loading;
    const step = guide.steps[index];
    this.index = index;
    this.body.dataset.step = step.id;
    this.renderStepLine();
    this.back.disabled = index === 0;
    this.next.disabled = index === guide.steps.length - 1;
    this.checkButton.hidden = !step.has_check;
    this.result.hidden = true;
    this.result.replaceChildren();
    try {
      const page = await this.client.page(index);
      if (ticket !== this.loading) return; // the learner moved on meanwhile
      this.body.replaceChildren(renderMarkdown(page.markdown));
      this.decorateCodeBlocks();
      this.body.scrollTop = 0;
    } catch (error) {
      if (ticket !== this.loading) return;
      this.body.replaceChildren(h("p", { class: "guide-error" }, `This step could not be loaded: ${(error as Error).message}`));
    }
  }

  private renderStepLine(): void {
    const guide = this.guide;
    if (!guide) return;
    const step = guide.steps[this.index];
    const done = this.progress.checks_passed.includes(step.id);
    this.stepLine.textContent = `Step ${this.index + 1} of ${guide.steps.length} · ${step.title}${done ? " ✓" : ""}`;
  }

  private decorateCodeBlocks(): void {
    for (const pre of Array.from(this.body.querySelectorAll("pre"))) {
      const code = (pre.textContent ?? "").replace(/\n+$/, "");
      const copy = h("button", { type: "button", class: "btn small code-copy" }, "Copy");
      const run = h("button", { type: "button", class: "btn small code-run", title: "Paste into the terminal" }, "Run in terminal");
      const singleLine = !code.includes("\n");
      copy.addEventListener("click", async () => {
        try {
          await navigator.clipboard.writeText(code);
          copy.textContent = "Copied";
          setTimeout(() => (copy.textContent = "Copy"), 1500);
        } catch {
          toast("Copy failed: your browser did not allow clipboard access.", "error");
        }
      });
      // A single line runs at once; several lines are pasted and wait for the learner's Enter.
      run.addEventListener("click", () => this.terminal.pasteCommand(code, singleLine));
      const block = h("div", { class: "code-block" }, h("div", { class: "code-actions" }, copy, run));
      pre.replaceWith(block);
      block.prepend(pre);
    }
  }

  private async runCheck(): Promise<void> {
    const guide = this.guide;
    if (!guide) return;
    const index = this.index;
    this.checkButton.disabled = true;
    this.checkButton.textContent = "Checking…";
    this.result.hidden = true;
    let outcome: CheckResult | null = null;
    let failure = "";
    try {
      outcome = await this.client.check(index);
    } catch (error) {
      failure = error instanceof FilesError ? error.message : "The check could not run.";
    } finally {
      this.checkButton.disabled = false;
      this.checkButton.textContent = "Check";
    }
    if (index !== this.index) return;
    if (outcome) {
      this.progress = outcome.progress;
      this.renderStepLine();
    }
    const passed = outcome?.passed ?? false;
    const verdict = outcome ? (passed ? "Passed" : outcome.timed_out ? "Timed out" : "Not yet") : "Check failed to run";
    const message = outcome ? outcome.message : failure;
    this.result.dataset.result = passed ? "pass" : "fail";
    const verdictLine = h("p", { class: "check-verdict", id: "check-verdict" }, verdict);
    const detail = h("pre", { class: "check-message", id: "check-message", hidden: !message }, message);
    this.result.replaceChildren(verdictLine, detail);
    this.result.hidden = false;
  }
}
