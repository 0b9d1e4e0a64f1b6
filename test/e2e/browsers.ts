// One small driver layer over the three browser engines phones run (FACTS.md, "Browsers here"), so that an end-to-end
// test is written once and run in each:
//   chromium  V8             Debian's /usr/bin/chromium through playwright-core (CDP)
//   firefox   SpiderMonkey   Debian's /usr/bin/firefox-esr through puppeteer-core over WebDriver BiDi
//   webkit    JavaScriptCore Debian's WebKitWebDriver (webkit2gtk-driver) driving MiniBrowser, classic W3C WebDriver
//                            over HTTP with fetch; under `xvfb-run -a` when there is no display
// A page is driven only through what every engine offers: navigate, evaluate a script (awaiting its promise), poll a
// script until it is truthy, put a file into an <input type=file>, resize, screenshot. Engines whose binary is missing
// are reported by `availability()`; under CI=true a missing engine is an error (CI installs all three).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export type Engine = 'chromium' | 'firefox' | 'webkit';
export const ENGINES: Engine[] = ['chromium', 'firefox', 'webkit'];

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
// FACTS.md: the flags that make Debian's chromium run headless here without reaching for Google's hosts
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const onPath = (cmd: string) => (process.env.PATH ?? '').split(delimiter).some((d) => existsSync(join(d, cmd)));

/** What each engine needs on this machine, and the apt package that provides it. */
export function availability(engine: Engine): { ok: true } | { ok: false; reason: string } {
  const need = (path: string, pkg: string) => (existsSync(path) ? null : `${path} is missing (apt-get install ${pkg})`);
  const why = engine === 'chromium' ? need(CHROMIUM, 'chromium')
    : engine === 'firefox' ? need(FIREFOX, 'firefox-esr')
      : need(WEBKIT_DRIVER, 'webkit2gtk-driver') ?? need(MINIBROWSER, 'webkit2gtk-driver')
        ?? (process.env.DISPLAY || onPath('xvfb-run') ? null : 'no DISPLAY and no xvfb-run (apt-get install xvfb)');
  return why ? { ok: false, reason: why } : { ok: true };
}

/**
 * The engines to test: those whose binaries are here. Under CI=true every engine must be here (CI installs them):
 * a missing one throws instead of being skipped. VITGUARD_BROWSERS=chromium,webkit narrows the list.
 */
export function enginesToTest(): { engine: Engine; skip: string | null }[] {
  const only = process.env.VITGUARD_BROWSERS?.split(',').map((s) => s.trim()).filter(Boolean);
  return ENGINES.filter((e) => !only || only.includes(e)).map((engine) => {
    const a = availability(engine);
    if (!a.ok && process.env.CI === 'true') throw new Error(`CI=true but ${engine} cannot run: ${a.reason}. .ci/run installs chromium firefox-esr webkit2gtk-driver xvfb.`);
    if (!a.ok) console.warn(`[e2e] skipping ${engine}: ${a.reason}`);
    return { engine, skip: a.ok ? null : a.reason };
  });
}

export interface Browser {
  engine: Engine;
  /** Browser name and version as the driver reports it. */
  version: string;
  goto(url: string): Promise<void>;
  /** Evaluate a JavaScript expression in the page; a promise is awaited. The result must be JSON-serialisable. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Poll an expression every 100 ms until it is truthy; resolves to its value, or throws after timeoutMs. */
  waitFor<T = unknown>(expression: string, timeoutMs?: number): Promise<T>;
  /** Put a local file into an <input type=file> the way a user picking it does (the input fires 'change'). */
  setInputFile(selector: string, path: string): Promise<void>;
  /** Resize the page's viewport (WebKit: the window, and MiniBrowser's window is at least 447 px wide). */
  setViewport(width: number, height: number): Promise<void>;
  screenshot(path: string): Promise<void>;
  /** URLs the page and its workers requested, where the driver reports them (null for WebKit's classic WebDriver). */
  requests(): string[] | null;
  /** Uncaught exceptions in the page, where the driver reports them (null for WebKit's classic WebDriver). */
  pageErrors(): string[] | null;
  close(): Promise<void>;
}

export async function launch(engine: Engine, viewport = { width: 1280, height: 900 }): Promise<Browser> {
  if (engine === 'chromium') return launchChromium(viewport);
  if (engine === 'firefox') return launchFirefox(viewport);
  return launchWebKit(viewport);
}

/** JSON round trip, so that every engine hands back the same shapes (no undefined, no class instances). */
const wrap = (expression: string) => `Promise.resolve().then(() => (${expression})).then((v) => JSON.stringify(v === undefined ? null : v))`;

function poller(evaluate: <T>(e: string) => Promise<T>) {
  return async <T>(expression: string, timeoutMs = 60_000): Promise<T> => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = await evaluate<T>(expression);
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
}

async function launchChromium(viewport: { width: number; height: number }): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'vitguard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, viewport });
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => errors.push(e.message));
  const evaluate = async <T>(e: string) => JSON.parse(await page.evaluate(wrap(e)) as string) as T;
  return {
    engine: 'chromium',
    version: `chromium/${context.browser()?.version() ?? (await page.evaluate('navigator.userAgent'))}`,
    goto: async (url) => { await page.goto(url); },
    evaluate,
    waitFor: poller(evaluate),
    setInputFile: (selector, path) => page.setInputFiles(selector, path),
    setViewport: (width, height) => page.setViewportSize({ width, height }),
    screenshot: async (path) => { await page.screenshot({ path, fullPage: true }); },
    requests: () => requests,
    pageErrors: () => errors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function launchFirefox(viewport: { width: number; height: number }): Promise<Browser> {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox', executablePath: FIREFOX, headless: true, defaultViewport: viewport,
    // offline: no update checks, telemetry or safe-browsing lists (this machine's network is closed)
    extraPrefsFirefox: { 'app.update.enabled': false, 'browser.safebrowsing.malware.enabled': false, 'browser.safebrowsing.phishing.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false, 'network.captive-portal-service.enabled': false, 'network.connectivity-service.enabled': false },
  });
  const requests: string[] = [];
  const errors: string[] = [];
  const page = (await browser.pages())[0] ?? (await browser.newPage());
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e instanceof Error ? e.message : String(e)));
  const evaluate = async <T>(e: string) => JSON.parse(await page.evaluate(wrap(e)) as string) as T;
  return {
    engine: 'firefox',
    version: await browser.version(),
    goto: async (url) => { await page.goto(url); },
    evaluate,
    waitFor: poller(evaluate),
    async setInputFile(selector, path) {
      const input = await page.$(selector);
      if (!input) throw new Error(`no element ${selector}`);
      await (input as import('puppeteer-core').ElementHandle<HTMLInputElement>).uploadFile(path);
    },
    async setViewport(width, height) {
      try {
        await page.setViewport({ width, height });
      } catch (e) {
        // puppeteer-core 25 also sends emulation.setScreenOrientationOverride, which Firefox 140 ESR does not know:
        // set the viewport with the one BiDi command that matters
        if (!/setScreenOrientationOverride/.test((e as Error).message)) throw e;
        const frame = page.mainFrame() as unknown as { browsingContext: { setViewport(o: { viewport: { width: number; height: number } }): Promise<void> } };
        await frame.browsingContext.setViewport({ viewport: { width, height } });
      }
    },
    screenshot: async (path) => { await page.screenshot({ path: path as `${string}.png`, fullPage: true }); },
    requests: () => requests,
    pageErrors: () => errors,
    close: () => browser.close(),
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** WebKitWebDriver (classic W3C WebDriver, JSON over HTTP) driving MiniBrowser; an Xvfb display when none is set. */
async function launchWebKit(viewport: { width: number; height: number }): Promise<Browser> {
  const port = await freePort();
  const args = [`--port=${port}`, '--host=127.0.0.1'];
  const xvfb = !process.env.DISPLAY;
  // detached: its own process group, so close() ends xvfb-run, Xvfb, the driver and the browser it started together
  const driver: ChildProcess = spawn(xvfb ? 'xvfb-run' : WEBKIT_DRIVER, xvfb ? ['-a', WEBKIT_DRIVER, ...args] : args, { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  driver.stderr?.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise<void>((r) => driver.once('exit', () => r()));
  const base = `http://127.0.0.1:${port}`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(base + path, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json()) as { value: T & { error?: string; message?: string } };
    if (!res.ok) throw new Error(`WebKitWebDriver ${method} ${path}: ${json.value?.error}: ${json.value?.message}`);
    return json.value;
  };
  const kill = async () => {
    if (driver.exitCode === null && driver.pid) {
      try { process.kill(-driver.pid, 'SIGTERM'); } catch { /* gone already */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    }
  };
  let session = '';
  let version = '';
  try {
    for (let i = 0; ; i++) {
      try { await call('GET', '/status'); break; } catch (e) {
        if (i > 150 || driver.exitCode !== null) throw new Error(`WebKitWebDriver did not start: ${(e as Error).message}\n${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const s = await call<{ sessionId: string; capabilities: { browserName: string; browserVersion: string } }>('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'MiniBrowser', 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
    });
    session = s.sessionId;
    await call('POST', `/session/${session}/timeouts`, { script: 300_000, pageLoad: 120_000 });
    await call('POST', `/session/${session}/window/rect`, viewport);
    version = `${s.capabilities.browserName}/${s.capabilities.browserVersion}`;
  } catch (e) {
    await kill();
    throw e;
  }
  const S = `/session/${session}`;
  const evaluate = async <T>(e: string): Promise<T> => JSON.parse(await call<string>('POST', `${S}/execute/sync`, { script: `return ${wrap(e)};`, args: [] })) as T;
  return {
    engine: 'webkit',
    version,
    goto: async (url) => { await call('POST', `${S}/url`, { url }); },
    evaluate,
    waitFor: poller(evaluate),
    async setInputFile(selector, path) {
      const el = await call<Record<string, string>>('POST', `${S}/element`, { using: 'css selector', value: selector });
      const id = Object.values(el)[0];
      await call('POST', `${S}/element/${id}/value`, { text: path });
    },
    async setViewport(width, height) {
      await call('POST', `${S}/window/rect`, { width, height });
    },
    async screenshot(path) {
      writeFileSync(path, Buffer.from(await call<string>('GET', `${S}/screenshot`), 'base64'));
    },
    requests: () => null,
    pageErrors: () => null,
    async close() {
      try { await call('DELETE', S); } catch { /* the driver is going anyway */ }
      await kill();
    },
  };
}
