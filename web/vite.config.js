// The web workbench is served by the gateway from web/dist (./bpc builds it); no CDN, no
// network at run time: every library is bundled here from the npm registry at build time.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", assetsDir: "assets", sourcemap: false, chunkSizeWarningLimit: 1500 },
});
