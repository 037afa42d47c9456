import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// Built into artifacts/portal; the server's build copies it beside the server binaries as portal/ (docs/portal.md).
export default defineConfig({
  base: "/portal/",
  plugins: [react()],
  build: {
    outDir: "../../artifacts/portal",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      // The build must have no warnings: any warning fails it, so it cannot slip through unread.
      onwarn(warning) {
        throw new Error(`vite build warning: ${warning.message}`);
      },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
