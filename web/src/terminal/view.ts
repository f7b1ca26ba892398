/**
 * The terminal pane: xterm.js (fit + clickable links) wired to a `TerminalConnection`.
 *
 * Keys typed in the terminal go to the shell, Ctrl-C included: nothing here (or anywhere in
 * the page) registers document-level key handlers, and xterm gets focus when the pane is
 * clicked or the workspace opens.
 */
import { FitAddon } from "@xterm/addon-fit";
import { WebLinksAddon } from "@xterm/addon-web-links";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { TerminalConnection, type ConnectionOptions, type TerminalSink } from "./connection";

const encoder = new TextEncoder();

/** Read-only view of the visible buffer, for people and tests (window.__claraTerm). */
export interface TerminalReader {
  /** Every line of the buffer (scrollback + screen), right-trimmed, joined by "\n". */
  text(): string;
}

export class TerminalView {
  readonly terminal: Terminal;
  readonly connection: TerminalConnection;
  private readonly fit = new FitAddon();
  private readonly resizeObserver: ResizeObserver;

  constructor(
    private readonly host: HTMLElement,
    options: Omit<ConnectionOptions, "sink">,
  ) {
    this.terminal = new Terminal({
      cursorBlink: true,
      fontFamily: '"JetBrains Mono", "Fira Code", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      // At 1.0 the DOM renderer clips glyphs that sit below the baseline: underscores
      // vanish (snake_case reads as "snake case"). A little extra line height keeps them.
      lineHeight: 1.2,
      scrollback: 5000,
      allowProposedApi: false,
      theme: { background: "#0f1419", foreground: "#e6e1cf", cursor: "#f29718", selectionBackground: "#253340" },
    });
    this.terminal.loadAddon(this.fit);
    this.terminal.loadAddon(
      new WebLinksAddon((event, uri) => {
        event.preventDefault();
        // noopener: a page opened from learner output must not get a handle on this window.
        window.open(uri, "_blank", "noopener,noreferrer");
      }),
    );
    const sink: TerminalSink = {
      // RIS through the write queue, so it lands after anything still queued from the old socket.
      reset: () => this.terminal.write("\x1bc"),
      write: (data, done) => this.terminal.write(data, done),
    };
    this.connection = new TerminalConnection({
      ...options,
      sink,
      onState: (change) => {
        // A final disconnect is also written into the terminal, where the learner is looking.
        if (change.state === "disconnected" && change.detail) {
          this.terminal.write(`\r\n\x1b[1;33m[ClaraTeach] ${change.detail}\x1b[0m\r\n`);
        }
        options.onState(change);
      },
    });
    this.terminal.onData((data) => this.connection.sendInput(encoder.encode(data)));
    // onBinary carries raw bytes as a "binary string" (e.g. some mouse reports): one char = one byte.
    this.terminal.onBinary((data) =>
      this.connection.sendInput(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)),
    );
    this.terminal.onResize(({ cols, rows }) => this.connection.resize(cols, rows));
    this.resizeObserver = new ResizeObserver(() => this.refit());
  }

  /** Attach to the DOM, size to the pane and connect. */
  open(): void {
    this.terminal.open(this.host);
    this.resizeObserver.observe(this.host);
    this.refit();
    this.connection.resize(this.terminal.cols, this.terminal.rows);
    this.connection.start();
    this.terminal.focus();
  }

  refit(): void {
    if (this.host.clientWidth === 0 || this.host.clientHeight === 0) return; // hidden pane
    try {
      this.fit.fit();
    } catch {
      /* not rendered yet; the observer calls again */
    }
  }

  focus(): void {
    this.terminal.focus();
  }

  /**
   * Type `text` into the shell as one bracketed paste (ESC[200~ … ESC[201~), so the shell
   * takes it as pasted text and runs none of it on its own; Enter follows only if `enter`.
   * ESC characters are dropped from the text: it cannot end the paste early.
   */
  pasteCommand(text: string, enter: boolean): void {
    const clean = text.replace(/\x1b/g, "").replace(/\r\n?/g, "\n");
    this.connection.sendInput(encoder.encode(`\x1b[200~${clean}\x1b[201~${enter ? "\r" : ""}`));
    this.terminal.focus();
  }

  reader(): TerminalReader {
    return {
      text: () => {
        const buffer = this.terminal.buffer.active;
        const lines: string[] = [];
        for (let i = 0; i < buffer.length; i += 1) {
          lines.push(buffer.getLine(i)?.translateToString(true) ?? "");
        }
        return lines.join("\n");
      },
    };
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.connection.stop();
    this.terminal.dispose();
  }
}
