// SPDX-License-Identifier: MIT
// JupyterLab 4 in headless Chromium, driven as a person would: node lab.mjs SCENARIO URL TOKEN ARTIFACT_DIR
// Every wait is on DOM state (an output's text, a prompt's number), never a fixed sleep. On failure a
// screenshot of every open page is written to ARTIFACT_DIR and the process exits 1.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [scenario, base, token, artifacts] = process.argv.slice(2);
const TIMEOUT = 60000;

async function openNotebook(browser, path) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(TIMEOUT);
    // A workspace of its own, reset: only this notebook is open (another page's tabs are not restored here).
    const workspace = path.replace(/\W/g, "-");
    await page.goto(`${base}/lab/workspaces/${workspace}/tree/${path}?reset&token=${token}`);
    await kernelReady(page);
    return page;
}

/** Waits until the notebook's kernel is found and idle. The idle indicator alone shows before that: the toolbar's
 * kernel name is a display name (with its parentheses) only once the session has a kernel and the kernelspecs are
 * loaded. A run before then makes JupyterLab open a Select Kernel dialog instead (and a key press accepts it). */
async function kernelReady(page) {
    await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-KernelName").filter({ hasText: /\(.+\)/ }).first()
        .waitFor();
    await indicator(page, "idle").waitFor();
}

/** Fails with a dialog's text rather than letting a key press answer it. */
async function noDialog(page) {
    const dialog = page.locator(".jp-Dialog");
    if (await dialog.count() !== 0)
        throw new Error(`an unexpected dialog is open: '${(await dialog.first().innerText()).replace(/\s+/g, " ")}'`);
}

/** Types `code` into the notebook's last cell and runs it; returns that cell. */
async function run(page, code) {
    const cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell");
    // Pinned by index: a new cell is appended below, which `last()` would follow.
    const count = await cells.count();
    const cell = cells.nth(count - 1);
    await cell.locator(".cm-content").click();
    await page.keyboard.press("Control+a");
    await page.keyboard.insertText(code); // no auto-indent or bracket closing
    // The front end sends nothing (the prompt stays "[ ]") until its kernel connection is ready, which the
    // page does not show reliably: run in place until the prompt says the cell was sent.
    const sent = cell.locator(".jp-InputPrompt").filter({ hasText: /\[(\*|\d+)\]/ });
    for (let attempt = 0; ; ++attempt) {
        await noDialog(page);
        await page.keyboard.press("Control+Enter");
        try {
            await sent.waitFor({ timeout: 5000 });
            break;
        } catch (error) {
            if (attempt >= 11) throw error;
        }
    }
    // A new empty cell below for the next code, from the toolbar: keys could land in an input() box that
    // the running cell just focused.
    await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) [data-command='notebook:insert-cell-below']").first().click();
    await cells.nth(count).locator(".cm-content").waitFor();
    return cell;
}

async function finished(cell) {
    // A number in the prompt: the kernel replied with an execution_count (magics once left "[*]" forever).
    await cell.locator(".jp-InputPrompt").filter({ hasText: /\[\d+\]/ }).waitFor();
}

async function outputHas(cell, text) {
    await cell.locator(".jp-OutputArea-output").filter({ hasText: text }).first().waitFor();
}

/** The text a finished cell printed. */
async function printed(cell) {
    await finished(cell);
    return (await cell.locator(".jp-OutputArea-output").first().innerText()).trim();
}

const indicator = (page, status) =>
    page.locator(`.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='${status}']`).first();

/** A screenshot kept as a test artefact, also when the scenario passes. */
async function snapshot(page, name) {
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}/${scenario}-${name}.png`, fullPage: true });
}

const scenarios = {
    async host_two_notebooks(browser) {
        // Each notebook has a kernel of its own on atrium-host: two fronts of one host process (docs/host.md).
        const first = await openNotebook(browser, "host-first.ipynb");
        const second = await openNotebook(browser, "host-second.ipynb");
        const firstPid = await printed(await run(first, "import os\nx = 'first'\nprint('host pid', os.getpid())"));
        const secondPid = await printed(await run(second, "import os\nx = 'second'\nprint('host pid', os.getpid())"));
        if (!/^host pid \d+$/.test(firstPid) || firstPid !== secondPid)
            throw new Error(`two hosts: '${firstPid}' and '${secondPid}'`);

        // Side by side, each with its own indicator: the first waits for a pool entry (busy) while the second
        // (idle) answers from its own namespace, then hands the first an object through the pool.
        const waiting = await run(first, "import time\nwhile 'handover' not in pool:\n    time.sleep(0.05)\n"
            + "print('first got', pool.get('handover'), 'and has', x)");
        await indicator(first, "busy").waitFor();
        await indicator(second, "idle").waitFor();
        const quick = await run(second, "print('second has', x)");
        await outputHas(quick, "second has second");
        await finished(quick);
        await indicator(second, "idle").waitFor();
        await indicator(first, "busy").waitFor();
        await snapshot(first, "first-busy");
        await snapshot(second, "second-idle");
        if (await waiting.locator(".jp-OutputArea-output").count() !== 0)
            throw new Error("the first notebook's cell ended before the second handed it the object");
        await finished(await run(second, "pool.put('handover', {'rows': [1, 2, 3], 'from': 'second'})"));
        await outputHas(waiting, "first got {'rows': [1, 2, 3], 'from': 'second'} and has first");
        await finished(waiting);
        await indicator(first, "idle").waitFor();

        // One compute cluster for the host: both notebooks' ctx reach the same scheduler.
        const firstCluster = await printed(await run(first, "print('scheduler', ctx.status()['scheduler'])"));
        const secondCluster = await printed(await run(second, "print('scheduler', ctx.status()['scheduler'])"));
        if (!firstCluster.startsWith("scheduler tcp://") || firstCluster !== secondCluster)
            throw new Error(`two clusters: '${firstCluster}' and '${secondCluster}'`);

        // Restart the first from its toolbar: its namespace starts afresh in the same host; the second's stays,
        // and so do the pool and the cluster.
        await first.locator(".jp-NotebookPanel:not(.lm-mod-hidden) [data-command='notebook:restart-kernel']").click();
        await first.locator(".jp-Dialog .jp-mod-accept").click();
        await indicator(first, "idle").waitFor();
        const after = await printed(await run(first, "import os\nprint('x' in dir(), pool.get('handover')['from'], 'host pid', os.getpid())"));
        if (after !== `False second ${firstPid}`)
            throw new Error(`after the restart the first notebook printed '${after}'`);
        const kept = await printed(await run(second, "print('second has', x, 'and', ctx.status()['scheduler'])"));
        if (kept !== `second has second and ${firstCluster.slice("scheduler ".length)}`)
            throw new Error(`after the first's restart the second notebook printed '${kept}'`);
        await indicator(first, "idle").waitFor();
        await indicator(second, "idle").waitFor();
        await snapshot(first, "first-restarted");
        await snapshot(second, "second-kept");

        // A page reload: a new connection (a new header.session) to the same kernel finds the second's namespace.
        await second.reload();
        await kernelReady(second);
        const reloaded = await printed(await run(second, "print('after the reload', x)"));
        if (reloaded !== "after the reload second")
            throw new Error(`after a reload the second notebook printed '${reloaded}'`);
    },

    async basics(browser) {
        const page = await openNotebook(browser, "basics.ipynb");
        let cell = await run(page, "print('hello from atrium')");
        await outputHas(cell, "hello from atrium");

        cell = await run(page, "import time\nfor i in range(20):\n    print(f'line {i}', flush=True)\n    time.sleep(0.02)");
        await outputHas(cell, "line 19");

        cell = await run(page, "from IPython.display import HTML\nHTML('<b class=\"atrium-bold\">bold html</b>')");
        await cell.locator(".jp-RenderedHTMLCommon b.atrium-bold").waitFor();

        // A matplotlib plot, inline: the kernel sends image/png and the output area renders it as a data URL.
        cell = await run(page, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()");
        await cell.locator(".jp-OutputArea-output img[src^='data:image/png']").waitFor();
        await finished(cell);

        // A widget, moved by the user and read back in the kernel.
        cell = await run(page, "import ipywidgets as widgets\nslider = widgets.IntSlider(value=3, min=0, max=10)\nslider");
        const handle = cell.locator(".widget-slider .noUi-handle");
        await handle.waitFor();
        await handle.focus();
        await page.keyboard.press("ArrowRight");
        await page.keyboard.press("ArrowRight");
        await cell.locator(".widget-readout").filter({ hasText: "5" }).waitFor();
        cell = await run(page, "print('slider at', slider.value)");
        await outputHas(cell, "slider at 5");

        // input()
        cell = await run(page, "name = input('your name? ')\nprint('hello', name)");
        const box = cell.locator(".jp-Stdin-input");
        await box.waitFor();
        await box.fill("Ada");
        await box.press("Enter");
        await outputHas(cell, "hello Ada");

        // Completion: Tab opens the completer with the kernel's matches.
        cell = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").last();
        await cell.locator(".cm-content").click();
        await page.keyboard.insertText("widgets.Int");
        await page.keyboard.press("Tab");
        // Attached, typed by the kernel's _jupyter_types_experimental ("class"); the list may render off-screen.
        await page.locator(".jp-Completer-item[data-value='IntSlider'][title='class']").first().waitFor({ state: "attached" });
        await page.keyboard.press("Escape");
        // Inspection: Shift+Tab shows the kernel's tooltip (back in the editor: Escape may leave edit mode).
        await cell.locator(".cm-content").click();
        await page.keyboard.press("Control+a");
        await page.keyboard.insertText("print(");
        await page.keyboard.press("Shift+Tab");
        await page.locator(".jp-Tooltip").filter({ hasText: "print" }).first().waitFor({ state: "attached" });
        await page.keyboard.press("Escape");

        // %contexts completes with a number.
        cell = await run(page, "%contexts");
        await outputHas(cell, "binding:");
        await finished(cell);

        // Interrupt from the toolbar.
        cell = await run(page, "import time\ntime.sleep(30)");
        await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='busy']").first().waitFor();
        await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) [data-command='notebook:interrupt-kernel']").click();
        await outputHas(cell, "KeyboardInterrupt");

        // Restart from the toolbar: a fresh namespace.
        await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) [data-command='notebook:restart-kernel']").click();
        await page.locator(".jp-Dialog .jp-mod-accept").click();
        await page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator[data-status='idle']").first().waitFor();
        cell = await run(page, "print('name' in dir())");
        await outputHas(cell, "False");
    },

    async notebook7(browser) {
        // Notebook 7: one notebook per page, the same cells and toolbar as JupyterLab.
        const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
        page.setDefaultTimeout(TIMEOUT);
        await page.goto(`${base}/notebooks/classic.ipynb?token=${token}`);
        await page.locator(".jp-Notebook .jp-Cell .cm-content").first().waitFor();
        let cell = await run(page, "print('hello from notebook 7')");
        await outputHas(cell, "hello from notebook 7");
        await finished(cell);
        cell = await run(page, "import time\nfor i in range(600):\n    time.sleep(0.05)");
        await cell.locator(".jp-InputPrompt").filter({ hasText: "[*]" }).waitFor();
        await page.locator("[data-command='notebook:interrupt-kernel']").first().click();
        await outputHas(cell, "KeyboardInterrupt");
        await finished(cell);
    },

    async launcher(browser) {
        const page = await browser.newPage();
        page.setDefaultTimeout(TIMEOUT);
        await page.goto(`${base}/lab?token=${token}`);
        const expected = JSON.parse(process.env.ATRIUM_DISPLAY_NAMES);
        for (const name of expected)
            await page.locator(".jp-LauncherCard", { hasText: name }).first().waitFor();
    },

    async two_notebooks(browser) {
        // Both notebooks were given one atrium-scoped kernel (a session each, the same kernel id).
        const first = await openNotebook(browser, "first.ipynb");
        const second = await openNotebook(browser, "second.ipynb");
        await finished(await run(first, "x = 'first'"));
        await finished(await run(second, "x = 'second'"));
        // Side by side: the first notebook sleeps while the second answers.
        const slow = await run(first, "import time\nfor i in range(100):\n    time.sleep(0.05)\nprint('first still', x)");
        await slow.locator(".jp-InputPrompt").filter({ hasText: "[*]" }).waitFor();
        const quick = await run(second, "print('second has', x)");
        await outputHas(quick, "second has second");
        if (await slow.locator(".jp-OutputArea-output").count() !== 0)
            throw new Error("the first notebook's cell ended before the second's was answered");
        await outputHas(slow, "first still first");
    },
};

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
    await scenarios[scenario](browser);
    console.log(`${scenario}: ok`);
} catch (error) {
    mkdirSync(artifacts, { recursive: true });
    let index = 0;
    for (const context of browser.contexts())
        for (const page of context.pages())
            await page.screenshot({ path: `${artifacts}/${scenario}-${index++}.png`, fullPage: true }).catch(() => {});
    console.error(`${scenario}: ${error.stack}`);
    process.exitCode = 1;
} finally {
    await browser.close();
}
