/**
 * The room's model controls: pause / resume the model for every seat (the grid header; one
 * seat's button is on its tile, grid.ts), and the model policy's per-seat defaults (budget,
 * requests per minute), changed while the workshop runs (`POST …/model-policy`).
 */
import { confirmAction } from "../../ui/dialog";
import { h } from "../../ui/dom";
import { toast } from "../../ui/toast";
import { type InstructorClient, InstructorError, type ModelPolicy } from "./client";

export interface Part<T> {
  element: HTMLElement;
  update(value: T): void;
}

export function modelControls(client: InstructorClient, workshopId: string, report: (e: unknown) => void): Part<boolean> {
  const state = h("span", { class: "room-model-state", id: "model-state", role: "status" });
  const pause = h("button", { type: "button", class: "danger", "data-action": "pause-model-all" }, "Pause model for everyone");
  const resume = h("button", { type: "button", "data-action": "resume-model-all" }, "Resume model for everyone");
  pause.addEventListener("click", async () => {
    const sure = await confirmAction(
      "Pause the model for everyone?",
      "Every learner's Claude Code is refused until you resume it.",
      "Pause for everyone",
      true,
    );
    if (!sure) return;
    try {
      await client.setModelAccess(workshopId, true);
      toast("Model paused for every seat.");
    } catch (error) {
      report(error);
    }
  });
  resume.addEventListener("click", async () => {
    try {
      await client.setModelAccess(workshopId, false);
      toast("Model resumed for every seat (single-seat pauses lifted too).");
    } catch (error) {
      report(error);
    }
  });
  return {
    element: h("div", { class: "room-model" }, pause, resume, state),
    update(paused: boolean) {
      const text = paused ? "Model paused for everyone." : "";
      if (state.textContent !== text) state.textContent = text;
    },
  };
}

/** A number input's value, or null when empty. */
function numberOrNull(input: HTMLInputElement): number | null {
  return input.value.trim() === "" ? null : Number(input.value);
}

export function policyForm(
  client: InstructorClient,
  workshopId: string,
  report: (e: unknown) => void,
): Part<ModelPolicy | undefined> {
  const budget = h("input", { id: "policy-budget", type: "number", min: 0, step: "0.01", placeholder: "unlimited" });
  const rpm = h("input", { id: "policy-rpm", type: "number", min: 1, step: 1, placeholder: "unlimited" });
  const error = h("p", { class: "dialog-error", role: "alert", id: "policy-error" });
  const form = h(
    "form",
    { class: "policy-form", "aria-label": "Model policy" },
    h("strong", {}, "Model policy (every seat)"),
    h("div", { class: "field" }, h("label", { for: "policy-budget" }, "Budget per seat (USD)"), budget),
    h("div", { class: "field" }, h("label", { for: "policy-rpm" }, "Requests per minute"), rpm),
    h("button", { type: "submit", "data-action": "save-policy" }, "Save policy"),
    error,
  );
  let current: ModelPolicy | null = null;
  let dirty = false;
  for (const input of [budget, rpm]) input.addEventListener("input", () => (dirty = true));
  const fill = (policy: ModelPolicy) => {
    budget.value = policy.defaults.budget_usd == null ? "" : String(policy.defaults.budget_usd);
    rpm.value = policy.defaults.requests_per_minute == null ? "" : String(policy.defaults.requests_per_minute);
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!current) return;
    const next: ModelPolicy = {
      ...current,
      defaults: { ...current.defaults, budget_usd: numberOrNull(budget), requests_per_minute: numberOrNull(rpm) },
    };
    try {
      await client.setPolicy(workshopId, next);
      current = next;
      dirty = false;
      toast("Model policy saved; running hosts apply it to the next request.");
    } catch (exc) {
      error.textContent = exc instanceof Error ? exc.message : String(exc);
      if (exc instanceof InstructorError && exc.status === 401) report(exc);
    }
  });
  return {
    element: form,
    update(policy: ModelPolicy | undefined) {
      if (!policy?.defaults) return;
      current = policy; // the base of the next save; the inputs are left alone while edited
      if (!dirty) fill(policy);
    },
  };
}
