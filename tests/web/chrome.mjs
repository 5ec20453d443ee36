// Headless Chromium for the web console's tests, driven over its DevTools protocol on a
// pipe (--remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4), so no driver
// is needed. Collects what must not happen on a page: script exceptions, console.error,
// CSP violations and other error log entries (an API refusal the test asked for is the
// caller's to allow).
import { spawn, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { until, within } from './daemon.mjs';

export const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => {
  try { execFileSync('sh', ['-c', 'command -v ' + c], { stdio: 'ignore' }); return true; } catch (e) { return false; }
});
export const noBrowser = (!CHROMIUM && 'chromium is not installed (Debian package chromium)') || false;

// A DevTools protocol client over Chromium's pipe.
export class Cdp {
  constructor(proc) {
    this.proc = proc;
    this.next = 1;
    this.waiting = new Map();
    this.handlers = [];
    let buf = '';
    proc.stdio[4].on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let i;
      while ((i = buf.indexOf('\0')) >= 0) {
        const msg = JSON.parse(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (msg.id && this.waiting.has(msg.id)) {
          const { resolve, reject } = this.waiting.get(msg.id);
          this.waiting.delete(msg.id);
          if (msg.error)
            reject(new Error(msg.error.message));
          else
            resolve(msg.result);
        } else if (msg.method) {
          for (const h of this.handlers)
            h(msg);
        }
      }
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    const msg = { id, method, params };
    if (sessionId)
      msg.sessionId = sessionId;
    this.proc.stdio[3].write(JSON.stringify(msg) + '\0');
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }
}

// A browser with one page. allowed(entry): a network error log entry the test expects.
export async function openBrowser(tmp, { allowed = () => false } = {}) {
  const chrome = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-extensions', '--disable-dev-shm-usage', '--disable-background-networking',
    '--remote-debugging-pipe', '--window-size=1280,900', '--user-data-dir=' + join(tmp, 'chromium'), 'about:blank'],
  { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'] });
  const cdp = new Cdp(chrome);
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId: session } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  const problems = [];
  const initiator = new Map();         // url -> the page's code that asked for it last
  cdp.handlers.push((m) => {
    if (m.sessionId !== session)
      return;
    if (m.method === 'Network.requestWillBeSent')
      initiator.set(m.params.request.url, (m.params.initiator.stack?.callFrames || []).slice(0, 8)
        .map((f) => f.functionName + '@' + f.url.split('/').pop() + ':' + (f.lineNumber + 1)).join(' < '));
    else if (m.method === 'Runtime.exceptionThrown')
      problems.push('exception: ' + JSON.stringify(m.params.exceptionDetails).slice(0, 400));
    else if (m.method === 'Log.entryAdded' && ['error', 'warning'].includes(m.params.entry.level) &&
             !(m.params.entry.source === 'network' && allowed(m.params.entry)))
      problems.push('log ' + m.params.entry.level + ' (' + m.params.entry.source + '): ' + m.params.entry.text +
                    ' ' + (m.params.entry.url || '') +
                    (initiator.has(m.params.entry.url) ? ' asked by ' + initiator.get(m.params.entry.url) : ''));
    else if (m.method === 'Runtime.consoleAPICalled' && ['error', 'warning', 'assert'].includes(m.params.type))
      problems.push('console.' + m.params.type + ': ' + JSON.stringify(m.params.args).slice(0, 400));
    else if (m.method === 'Page.javascriptDialogOpening')
      cdp.send('Page.handleJavaScriptDialog', { accept: true }, session);
  });
  for (const dom of ['Runtime', 'Log', 'Page', 'Network'])
    await cdp.send(dom + '.enable', {}, session);

  const b = {
    cdp, session, problems,
    // Evaluate an expression in the page; its value (JSON-able).
    async page(expr) {
      const r = await cdp.send('Runtime.evaluate', { expression: expr, returnByValue: true, awaitPromise: true }, session);
      if (r.exceptionDetails)
        throw new Error('page: ' + expr.slice(0, 200) + ': ' + JSON.stringify(r.exceptionDetails).slice(0, 400));
      return r.result.value;
    },
    async wait(expr, ms = 10000, what = expr) {
      try {
        return await until(() => b.page(expr).catch(() => false), ms, what);
      } catch (e) {
        const says = await b.page("location.href + ': ' + (document.querySelector('main') ? " +
          "document.querySelector('main').innerText.slice(0, 1500) : '')").catch(() => '?');
        throw new Error(e.message + '; the page says: ' + says + '; problems: ' + JSON.stringify(b.problems));
      }
    },
    navigate(url) { return cdp.send('Page.navigate', { url }, session); },
    // Log in through the form at base.
    async login(base, user, password) {
      await b.navigate(base + '/');
      await b.wait("!!document.getElementById('login-user') || !document.getElementById('nav').hidden");
      if (!await b.page("!!document.getElementById('login-user')"))
        await b.logout();              // a session left by an earlier test
      await b.wait("!!document.getElementById('login-user') && !!document.getElementById('login-password')");
      await b.page(`(() => { document.getElementById('login-user').value = ${JSON.stringify(user)};
        document.getElementById('login-password').value = ${JSON.stringify(password)};
        document.querySelector('form').requestSubmit(); })()`);
      await b.wait(`document.getElementById('who-name').textContent === ${JSON.stringify(user)} &&
        !document.getElementById('nav').hidden`);
    },
    async logout() {
      await b.page("document.getElementById('logout').click()");
      await b.wait("!!document.getElementById('login-user')");
    },
    async close() {
      if (chrome.exitCode === null) {
        const gone = new Promise((r) => chrome.once('exit', r));
        chrome.kill('SIGTERM');
        await within(gone, 5000);
      }
    },
  };
  return b;
}
