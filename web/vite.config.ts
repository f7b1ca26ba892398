import { defineConfig } from "vitest/config";

// One static build serves every deployment: the API location is read at runtime from
// config.json, so nothing environment-specific is baked in here.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: true,
    // xterm + CodeMirror + language packs are one app; splitting them buys nothing here.
    chunkSizeWarningLimit: 1500,
    // Two pages: the learner client and the cockpit (its own CSP allows Google sign-in).
    rollupOptions: { input: { main: "index.html", instructor: "instructor.html" } },
  },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
  },
});
