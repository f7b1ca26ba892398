/**
 * Entry point of the cockpit page (instructor.html, served at `/instructor`): load config.json,
 * then sign in and show the room (pages/instructor/page.ts). A page of its own so that only
 * it, never the learner page, allows Google's sign-in script in its CSP.
 */
import "./styles.css";
import { loadConfig } from "./config";
import { renderInstructor } from "./pages/instructor/page";

async function main(): Promise<void> {
  const root = document.getElementById("app")!;
  renderInstructor(root, await loadConfig());
}

void main();
