// Debian's Chromium (test/services/chromium-up.sh) driven by playwright-core, which brings no browser of its own.
import { spawnSync } from "node:child_process";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { ensureService } from "./services.js";
import { tmpDir } from "./tmp.js";

/** Debian's launcher script (it adds /etc/chromium.d flags and finds the real binary). */
export const CHROMIUM = "/usr/bin/chromium";
/** True when Chromium is installed and starts. */
export const CHROMIUM_PROBE = `${CHROMIUM} --version`;

// Without these, Chromium on this machine tries its own network services (QUIC, component updates, sync, the
// first-run page), those outgoing connections are refused, and the page load stalls behind them.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Installs Chromium when missing (see ensureService: skipped without root, a failure under CI=true). */
export function ensureChromium(ctx: Mocha.Context): void {
  // ensureService runs `apt-get update` before the up script; not worth it when the browser is already there.
  if (spawnSync("/bin/bash", ["-c", CHROMIUM_PROBE], { stdio: "ignore", timeout: 30_000 }).status === 0) return;
  ensureService(ctx, "chromium", CHROMIUM_PROBE);
}

/** A headless Chromium with a fresh profile; `close` ends it and removes the profile. */
export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Starts Chromium on a fresh `--user-data-dir` in a temp dir (playwright's persistent context owns the flag). */
export async function launchChromium(): Promise<TestBrowser> {
  const profile = tmpDir("taskloom-chromium-");
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile.dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
      timeout: 30_000,
    });
  } catch (e) {
    profile.remove();
    throw e;
  }
  return {
    context,
    newPage: () => context.newPage(),
    close: async () => {
      await context.close().catch(() => undefined);
      profile.remove();
    },
  };
}
