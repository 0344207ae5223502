"""Hostile text never becomes active HTML. Each input is rendered as the server stores it (agent
Markdown, visitor text, a system note), then inserted the way the console and the widget insert it
(``innerHTML`` of a bubble), and Chromium is asked what it made of it: no script ran, no element has an
``on*`` attribute, no link, image or frame points at ``javascript:``, ``data:`` or ``vbscript:``, and
no <script>, <iframe>, <object>, <embed>, <form>, <style>, <svg>, <math>, <base> or <meta> exists.
Judged by the browser's DOM, not by string matching."""

import pytest

from chat import rendering
from chat.errors import InvalidInput

pytestmark = [pytest.mark.browser]

# Every payload that could run sets window.__ran (or tries to); a refusal (InvalidInput) is also fine.
PAYLOADS = [
    "<script>window.__ran=1</script>",
    "<img src=x onerror=window.__ran=1>",
    "<svg onload=window.__ran=1>",
    "<svg><script>window.__ran=1</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__ran=1>",
    "<iframe src=javascript:window.__ran=1>",
    "<iframe srcdoc='<script>parent.__ran=1</script>'>",
    "<object data=javascript:window.__ran=1>",
    "<embed src=javascript:window.__ran=1>",
    "<a href=javascript:window.__ran=1>click</a>",
    "<a href='JaVaScRiPt:window.__ran=1'>click</a>",
    "<a href='java\tscript:window.__ran=1'>tab</a>",
    "<a href='&#106;avascript:window.__ran=1'>entity</a>",
    "[click](javascript:window.__ran=1)",
    "[click](JAVASCRIPT:window.__ran=1)",
    "[click](  javascript:window.__ran=1)",
    "[click](data:text/html,<script>window.__ran=1</script>)",
    "[click](vbscript:msgbox)",
    "![x](javascript:window.__ran=1)",
    "![x](x\" onerror=\"window.__ran=1)",
    "[x](https://example.com\" onmouseover=\"window.__ran=1)",
    "<https://example.com/\" onmouseover=\"window.__ran=1>",
    "<div style=\"background:url(javascript:window.__ran=1)\">x</div>",
    "<p title='</p><img src=x onerror=window.__ran=1>'>t</p>",
    "<!--<img src=x onerror=window.__ran=1>-->",
    "<![CDATA[<img src=x onerror=window.__ran=1>]]>",
    "<form action=javascript:window.__ran=1><button>go</button></form>",
    "<base href=javascript:window.__ran=1//>",
    "<meta http-equiv=refresh content='0;url=javascript:window.__ran=1'>",
    "<details open ontoggle=window.__ran=1>",
    "<video><source onerror=window.__ran=1></video>",
    "<body onload=window.__ran=1>",
    "<input autofocus onfocus=window.__ran=1>",
    "<style>*{background:url(javascript:window.__ran=1)}</style>",
    "```\n</code><img src=x onerror=window.__ran=1>\n```",
    "`<img src=x onerror=window.__ran=1>`",
    "**<img src=x onerror=window.__ran=1>**",
    "> <img src=x onerror=window.__ran=1>",
    "- <img src=x onerror=window.__ran=1>",
    "www.example.com/<img src=x onerror=window.__ran=1>",
    "https://example.com/?q=<script>window.__ran=1</script>",
    "&lt;img src=x onerror=window.__ran=1&gt;",
    "<a href=\"https://example.com\" onclick=\"window.__ran=1\">ok</a>",
    "<<img src=x onerror=window.__ran=1>>",
    "<img/src=x/onerror=window.__ran=1>",
    "<scr<script>ipt>window.__ran=1</scr</script>ipt>",
]

RENDERERS = {
    "agent markdown": rendering.render_markdown,
    "visitor text": rendering.render_plain,
    "system note": rendering.render_note,
}

# Run in the page after the HTML is in place: what would make it active, as the browser sees it.
JUDGE = """(container) => {
    const problems = [];
    if (window.__ran) problems.push("a script ran");
    const banned = "script,iframe,object,embed,form,style,svg,math,base,meta,link,frame,frameset,input,button";
    for (const el of container.querySelectorAll(banned)) problems.push("<" + el.localName + ">");
    for (const el of container.querySelectorAll("*")) {
        for (const attr of el.attributes) {
            if (attr.name.startsWith("on")) problems.push(el.localName + "[" + attr.name + "]");
            if (attr.name === "style") problems.push(el.localName + "[style]");
            if (["href", "src", "action", "formaction", "srcdoc", "data", "xlink:href"].includes(attr.name)) {
                const value = attr.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
                if (/^(javascript|data|vbscript):/.test(value)) problems.push(el.localName + "[" + attr.name + "]");
            }
        }
    }
    for (const a of container.querySelectorAll("a[href]")) {
        if (!["http:", "https:", "mailto:"].includes(a.protocol)) problems.push("a link to " + a.protocol);
    }
    return problems;
}"""


@pytest.fixture(scope="module")
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_content("<!doctype html><div id=bubble></div>")
    yield page
    context.close()


def test_enough_hostile_inputs_are_tried():
    assert len(PAYLOADS) >= 30


@pytest.mark.parametrize("kind", RENDERERS)
def test_no_hostile_input_becomes_active_html(page, kind):
    render = RENDERERS[kind]
    failures = {}
    for payload in PAYLOADS:
        try:
            html = render(payload)
        except InvalidInput:
            continue  # refused with a reason the writer can read: nothing to insert
        page.evaluate("html => { window.__ran = 0; document.getElementById('bubble').innerHTML = html; }", html)
        # Give event handlers (onerror of a broken image, onload) their chance to run.
        page.wait_for_function("() => document.readyState === 'complete'")
        page.evaluate("() => new Promise(r => setTimeout(r, 0))")
        problems = page.locator("#bubble").evaluate(JUDGE)
        if problems:
            failures[payload] = (html, problems)
    assert not failures, failures


def test_the_judge_sees_active_html_when_it_is_there(page):
    """The control: the same inputs, inserted as they came, are caught."""
    caught = 0
    for payload in PAYLOADS[:12]:
        page.evaluate("html => { window.__ran = 0; document.getElementById('bubble').innerHTML = html; }", payload)
        caught += bool(page.locator("#bubble").evaluate(JUDGE))
    assert caught == 12
