/**
 * The roster page in a real browser: Debian's `chromium`, headless, driven by
 * `puppeteer-core` (which never downloads a browser). It saves the README's
 * screenshot, `docs/roster_page.png`.
 *
 * Where `chromium` is missing, these tests do not run and one line says so,
 * except under CI (`CI=true`), where a missing browser fails the run.
 */
import assert from "node:assert/strict";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { commandSucceeds, spawnProgram, WAIT_MS } from "./harness.ts";
import { startWebRoster } from "./web_clients.ts";

const CHROMIUM = "/usr/bin/chromium";

const CHROMIUM_MISSING = !commandSucceeds(CHROMIUM, ["--version"]) &&
  Deno.env.get("CI") !== "true";

if (CHROMIUM_MISSING) {
  console.error(
    "note: chromium is not installed, so the roster page's browser test did " +
      "not run; install it with: apt-get install chromium",
  );
}

const SCREENSHOT = new URL("../docs/roster_page.png", import.meta.url);

/** Starts headless Chromium with a fresh profile; dispose it to close it. */
async function launchChromium(): Promise<Browser & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "roster-chromium-" });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
    ],
  });
  return Object.assign(browser, {
    [Symbol.asyncDispose]: async () => {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  });
}

/** The names the page lists, joined by spaces as a roster line. */
function shownNames(page: Page): Promise<string> {
  return page.$$eval(
    "#names li",
    (items) => items.map((item) => item.textContent).join(" "),
  );
}

/** Waits until the page lists `line` and counts its names. */
async function waitForRoster(page: Page, line: string): Promise<void> {
  // Run in the page, so written as text (Deno's types have no DOM).
  const shows = `[...document.querySelectorAll("#names li")]
      .map((item) => item.textContent).join(" ") === ${JSON.stringify(line)}
    && document.getElementById("count").textContent === "${
    line.split(" ").length
  }"`;
  await page.waitForFunction(shows, { timeout: WAIT_MS }).catch(
    async (error: unknown) => {
      throw new Error(
        `The page never showed "${line}"; it shows "${await shownNames(page)}"`,
        { cause: error },
      );
    },
  );
}

/** Opens the page at `url`, types `name` and joins. */
async function joinOnPage(page: Page, url: string, name: string) {
  await page.goto(url);
  await page.type("#name", name);
  await page.click("#go");
}

Deno.test({
  name:
    "roster page in Chromium: alice joins, sees TCP client bob come and go, and a second alice is refused",
  ignore: CHROMIUM_MISSING,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using started = await startWebRoster();
    await using browser = await launchChromium();
    const page = await browser.newPage();
    await page.setViewport({ width: 480, height: 560 });
    await joinOnPage(page, started.url, "alice");
    await waitForRoster(page, "alice");

    await using bob = spawnProgram("roster-client", [
      `127.0.0.1:${started.port}`,
      "bob",
    ]);
    assert.equal(await bob.stdout.next(), "alice bob");
    await waitForRoster(page, "alice bob");
    assert.match(
      await page.$eval("#change", (element) => element.textContent ?? ""),
      /bob joined/,
    );
    // After the highlight (about a second), so the picture is the steady page.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    await Deno.writeFile(SCREENSHOT, await page.screenshot({ type: "png" }));

    bob.kill("SIGINT");
    assert.equal((await bob.exit()).code, 0);
    await waitForRoster(page, "alice");

    const second = await browser.newPage();
    await joinOnPage(second, started.url, "alice");
    await second.waitForFunction(
      'document.getElementById("error").textContent !== ""',
      { timeout: WAIT_MS },
    );
    assert.equal(
      await second.$eval("#error", (element) => element.textContent),
      'error: name "alice" is already connected',
    );
    assert.equal(await shownNames(page), "alice");
  },
});
