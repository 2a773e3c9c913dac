// Opens a Keyplane WorkbenchUrl in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core: no browser download), confirms on the page it shows, types a command into
// the xterm.js terminal, reads
// its output back from the terminal's buffer, saves a screenshot, then opens the same URL
// again. Configuration in KP_CFG (JSON): {url, screenshot, userDataDir, executablePath}.
// Prints one JSON line: {ok, result: {...}} or {ok: false, error}.
'use strict';
const { chromium } = require('playwright-core');

const config = JSON.parse(process.env.KP_CFG);
const COMMAND = 'echo hello-$((6*7))';

function terminalText(page) {
  return page.evaluate(() => {
    const terminal = window.keyplaneTerminal;
    if (!terminal) return null;
    const buffer = terminal.buffer.active;
    const lines = [];
    for (let index = 0; index < buffer.length; index += 1) {
      lines.push(buffer.getLine(index).translateToString(true));
    }
    return lines.join('\n');
  });
}

async function main() {
  const context = await chromium.launchPersistentContext(config.userDataDir, {
    executablePath: config.executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
    viewport: { width: 1000, height: 560 },
  });
  const result = { consoleErrors: [] };
  try {
    const page = context.pages()[0] || await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') result.consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => result.consoleErrors.push(String(error)));
    // The URL shows what it opens; nothing is spent until its button is clicked.
    const confirmation = await page.goto(config.url, { waitUntil: 'load' });
    result.confirmationStatus = confirmation.status();
    result.confirmationText = await page.locator('body').innerText();
    result.cookiesBeforeConfirmation = (await context.cookies()).map((cookie) => cookie.name);
    const [first] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.click('#open'),
    ]);
    result.firstStatus = first.status();
    result.landedOn = page.url();
    if (!(await page.evaluate(() => Boolean(document.getElementById('status'))))) {
      throw new Error(`the confirmation did not open the terminal page (${result.firstStatus} ` +
        `${result.landedOn}): ${await page.locator('body').innerText()}`);
    }
    const cookies = await context.cookies();
    result.cookies = cookies.map((cookie) => ({
      name: cookie.name, path: cookie.path, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite,
      expires: cookie.expires,
    }));
    await page.waitForFunction(() => document.getElementById('status').textContent === 'connected',
      null, { timeout: 20000 });
    await page.click('#terminal');
    await page.keyboard.type(COMMAND);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => {
      const buffer = window.keyplaneTerminal.buffer.active;
      for (let index = 0; index < buffer.length; index += 1) {
        if (buffer.getLine(index).translateToString(true).trim() === 'hello-42') return true;
      }
      return false;
    }, null, { timeout: 20000 });
    result.terminalText = await terminalText(page);
    // xterm.js paints its rows on an animation frame after the buffer changes: wait for the
    // painted rows too (the assertion on rowsText says what was there if they never show it).
    await page.waitForFunction(() => {
      const rows = document.querySelector('.xterm-rows');
      return rows !== null && rows.innerText.includes('hello-42');
    }, null, { timeout: 10000 }).catch(() => {});
    result.rowsText = await page.locator('.xterm-rows').innerText();
    await page.screenshot({ path: config.screenshot });

    // The same URL again, in a new tab of the same browser: refused, nothing opened.
    const second = await context.newPage();
    const again = await second.goto(config.url, { waitUntil: 'load' });
    result.secondStatus = again.status();
    result.secondUrl = second.url();
    result.secondText = await second.locator('body').innerText();
    result.secondHasTerminal = (await second.evaluate(() => Boolean(window.keyplaneTerminal)));
    process.stdout.write(JSON.stringify({ ok: true, result }) + '\n');
  } finally {
    await context.close();
  }
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.stack || error) }) + '\n');
  process.exitCode = 1;
});
