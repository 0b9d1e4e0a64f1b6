// "<engine> <version> (<brand>, <os>)" from a user agent, for the bench page's lines: the engine (V8, SpiderMonkey,
// JavaScriptCore) is what the numbers depend on, so every iOS browser is webkit, Edge and Samsung Internet chromium.

export function browserName(ua: string): string {
  const m = (re: RegExp) => ua.match(re)?.[1];
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad|iPod/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS'
    : /Windows/.test(ua) ? 'Windows' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : 'unknown OS';
  if (os === 'iOS') {
    const brand = /CriOS/.test(ua) ? 'Chrome' : /FxiOS/.test(ua) ? 'Firefox' : /EdgiOS/.test(ua) ? 'Edge' : 'Safari';
    return `webkit ${m(/Version\/([\d.]+)/) ?? m(/OS ([\d_]+)/)?.replace(/_/g, '.') ?? '?'} (${brand}, iOS)`;
  }
  const firefox = m(/Firefox\/([\d.]+)/);
  if (firefox) return `firefox ${firefox} (${os})`;
  const chrome = m(/(?:HeadlessChrome|Chrome|Chromium)\/([\d.]+)/);
  if (chrome) {
    const brand = /Edg\//.test(ua) ? 'Edge' : /SamsungBrowser/.test(ua) ? 'Samsung Internet' : /OPR\//.test(ua) ? 'Opera'
      : /HeadlessChrome/.test(ua) ? 'headless' : /Chromium/.test(ua) ? 'Chromium' : 'Chrome';
    return `chromium ${chrome} (${brand}, ${os})`;
  }
  const safari = m(/Version\/([\d.]+).*Safari/);
  if (safari && os === 'macOS') return `webkit ${safari} (Safari, macOS)`;
  const webkit = m(/AppleWebKit\/([\d.]+)/);
  // WebKitGTK and WPE (Linux) say Safari too, with a Version that is not Safari's: the engine's own version instead
  return webkit ? `webkit ${webkit} (${os === 'Linux' ? 'WebKitGTK' : os === 'macOS' ? 'macOS' : 'WebKit'}, ${os})` : ua;
}
