"""Rendering is bounded: any text within the message limit renders or is refused with ``invalid`` and a
reason its writer can act on, never an error of ours; system notes never linkify what people typed;
ordinary messages come out as they always did, the same to the widget and the console."""

import random
import re

import pytest
from bleach.linkifier import URL_RE as BLEACH_URL_RE
from channels.db import database_sync_to_async

from chat import rendering, services
from chat.errors import InvalidInput
from chat.models import Message
from chat.services import Actor

from . import live
from .factories import AgentFactory, VisitorFactory, start_chat

N = services.MAX_MESSAGE_CHARS

# The worst texts we found for Python-Markdown, bleach and linkify, each within the length limit, and
# what becomes of them as an agent's Markdown. Before the bounds, "[" * 5000 took seconds, "(" * 5000
# took a second in linkify and "1. " * 1666 raised RecursionError.
WORST = {
    "[ run": ("[" * N, "refused"),
    "[ spaced": ("[ " * (N // 2), "refused"),
    "[x": ("[x" * (N // 2), "refused"),
    "[` (brackets behind code spans)": ("[`" * (N // 2), "refused"),
    "[`]` then text": ("[`]`" * 200 + "x" * 4000, "refused"),
    "[\\n": ("[\n" * (N // 2), "refused"),
    "![ run": ("![" * (N // 2), "refused"),
    "[](": ("[](" * (N // 3), "refused"),
    "[a](": ("[a](" * (N // 4), "refused"),
    "[a](\"b) titles that never close": ('[a]("b)' * 700, "refused"),
    "links in links": ("[" * 1000 + "x" + "](u)" * 999, "refused"),
    "( run": ("(" * N, "rendered"),
    "[a]( then ( run": ("[a](" + "(" * (N - 4), "rendered"),
    "* run": ("*" * N, "refused"),
    "_ run": ("_" * N, "refused"),
    "` run": ("`" * N, "refused"),
    "< run": ("<" * N, "refused"),
    "& run": ("&" * N, "refused"),
    "> run": (">" * N, "refused"),
    "> quote nesting": ("> " * (N // 2), "refused"),
    "- list nesting": ("- " * (N // 2 - 1) + "x", "refused"),
    "1. list nesting": ("1. " * (N // 3), "refused"),
    "> - mixed nesting": ("> - " * (N // 4), "refused"),
    "indented lists": ("".join("  " * i + "- x\n" for i in range(60)), "refused"),
    "17 levels": ("- " * 17 + "x", "refused"),
    "16 levels": ("- " * 16 + "x", "rendered"),
    "*a emphasis": ("*a" * (N // 2), "refused"),
    "*_ emphasis": ("*_" * 1000 + "x" + "_*" * 1000, "refused"),
    "`a code spans": ("`a" * (N // 2), "refused"),
    "descending backtick runs": ("".join("`" * k + "a" for k in range(98, 0, -1)), "refused"),
    "<a tags": ("<a" * (N // 2), "refused"),
    "<blockquote> nesting": ("<blockquote>" * 400, "rendered"),
    "&# entities": ("&#" * (N // 2), "refused"),
    "\\[ escapes": ("\\[" * (N // 2), "refused"),
    "mixed metacharacters": ("[*_(<`&" * (N // 7), "refused"),
    "headings": ("# x\n" * (N // 4), "refused"),
    "rules": ("---\n" * (N // 4), "refused"),
    "setext headings": ("x\n=\n" * (N // 4), "refused"),
    "fences": ("```\n" * (N // 4), "refused"),
    "~~~ fences": ("~~~\n" * (N // 4), "refused"),
    "line breaks": ("a\n" * (N // 2), "refused"),
    "many links": ("[a](http://b.co) " * 294, "refused"),
    "many addresses": ("a.co " * (N // 5), "refused"),
    "x.ab- (linkify)": ("x.ab-" * (N // 5), "refused"),
    "a- (linkify)": ("a-" * (N // 2), "rendered"),
    "(a.com (linkify)": ("(" * (N - 10) + "a.com", "rendered"),
    "a long ordinary message": ("Thanks for waiting. " * (N // 20), "rendered"),
}


@pytest.mark.parametrize("text, outcome", WORST.values(), ids=WORST.keys())
def test_the_worst_texts_are_rendered_or_refused_with_a_reason(text, outcome):
    assert len(text) <= N
    try:
        html = rendering.render_markdown(text)
    except InvalidInput as exc:
        assert outcome == "refused", exc.message
        assert exc.code == "invalid"
        assert exc.message.startswith("This message has too") and exc.message.endswith(".")
    else:
        assert outcome == "rendered"
        assert isinstance(html, str)
    # A visitor's text is never refused for how it looks: it is escaped, with links where they fit.
    assert isinstance(rendering.render_plain(text), str)


def _metacharacter_texts(seed: int, count: int):
    tokens = list("[]()*_`<>&!#-+=.:/\\\"'~| \n\t1a") + [
        "http://", "www.", "a.com", "\n\n", "> ", "- ", "1. ", "```", "    ", "](", "![", "<a>", "<b>", "&amp;",
        "<!--", "***", "[a]", "(b)", "`a`", "x.ab-", "\n---\n", "\n# "]
    rng = random.Random(seed)
    for _ in range(count):
        shape = rng.randrange(3)
        if shape == 0:  # anything
            text = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 2500)))
        elif shape == 1:  # runs
            text = "".join(rng.choice(tokens) * rng.randint(1, 400) for _ in range(rng.randint(1, 30)))
        else:  # a motif repeated
            motif = "".join(rng.choice(tokens) for _ in range(rng.randint(1, 6)))
            text = motif * (N // len(motif) + 1)
        yield text[:N]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_markdown_metacharacters_are_rendered_or_refused(seed):
    """Random sequences of Markdown's metacharacters up to the length limit: each renders or is refused
    with a reason (the timings of the worst are in the issue; here only the outcome is asserted)."""
    for text in _metacharacter_texts(seed, 40):
        try:
            assert isinstance(rendering.render_markdown(text), str)
        except InvalidInput as exc:
            assert exc.message.startswith("This message has too")
        assert isinstance(rendering.render_plain(text), str)


def test_markdown_is_metered_while_it_runs():
    """What the checks before Markdown cannot see (brackets whose closing ] sits in a `code span`) the
    meter stops: if a Markdown upgrade renamed what it wraps, this would fail, not go unmetered."""
    text = "[`]`" * 200 + "x" * 4000
    assert rendering.markdown_refusal(text) == ""  # the checks before Markdown let it through
    with pytest.raises(InvalidInput, match="brackets"):
        rendering.render_markdown(text)
    rendering.render_markdown("See [the guide](https://example.com/guide) and `code`.\n\n# Heading")
    md = rendering._tools.markdown
    assert md.reading > 0 and md.block_reading > 0


def test_a_deep_nesting_that_markdown_would_recurse_on_is_refused_before_it_runs():
    text = "1. " * 1666
    assert "nested" in rendering.markdown_refusal(text)
    with pytest.raises(InvalidInput, match="more than 16 levels"):
        rendering.render_markdown(text)


def test_our_url_pattern_finds_what_bleachs_finds():
    """The linear URL pattern links what bleach's own does, on random text made of what addresses are
    made of (it differs only for host labels over 63 characters or hosts of over 10 labels)."""
    rng = random.Random(7)
    alphabet = list("aZ9_-.@:/( )x?&#%") + [
        "http", "https", "mailto", "ftp", "com", "co", ".uk", "www.", "--", "é", "\u212a", "\u017f", "coop", "museum",
        ":80", "CoM"]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 50)))
        ours = [m.span() for m in rendering.URL_RE.finditer(text)]
        assert ours == [m.span() for m in BLEACH_URL_RE.finditer(text)], text


def test_the_link_gate_is_the_pattern_it_replaces():
    """Visitor text skips linkify unless it may hold a link; the faster test says so exactly when the
    pattern it replaces did (which decides, for visitor text, what goes through html5lib at all)."""
    pattern = re.compile(r"://|www\.|[\w-]\.[A-Za-z]{2,}")
    rng = random.Random(3)
    alphabet = list("ab.-_ :/w\u212a\u00e91") + ["www", "://", ".co", "e.g."]
    for _ in range(20000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        assert rendering.links.may_have_link(text) == bool(pattern.search(text)), text


def test_what_is_cheap_is_rendered_in_place_and_the_rest_on_the_rendering_threads():
    assert rendering.render_in_place(rendering.PLAIN, "ok thanks!").html == "ok thanks!"
    short_link = rendering.render_in_place(rendering.PLAIN, "see https://example.com/a")
    assert short_link == rendering.render(rendering.PLAIN, "see https://example.com/a")
    assert rendering.render_in_place(rendering.PLAIN, "see https://example.com/a " * 20) is None
    assert rendering.render_in_place(rendering.MARKDOWN, "ok thanks!") is None


# --- As before ---------------------------------------------------------------------------------------

# What the renderer made of these before rendering was bounded (and what it must still make).
ORDINARY_AGENT = {
    "Thanks for waiting, I have checked your order and it will ship tomorrow.":
        "<p>Thanks for waiting, I have checked your order and it will ship tomorrow.</p>",
    "Hello **Sam**, your order *48213* is on its way. See [tracking](https://example.com/t/48213).":
        '<p>Hello <strong>Sam</strong>, your order <em>48213</em> is on its way. See <a href="https://example.com/t/'
        '48213" rel="noopener noreferrer nofollow" target="_blank">tracking</a>.</p>',
    "Please try these steps:\n\n1. Log out\n2. Clear the cache\n3. Log in again":
        "<p>Please try these steps:</p>\n<ol>\n<li>Log out</li>\n<li>Clear the cache</li>\n"
        "<li>Log in again</li>\n</ol>",
    "You can read more at https://help.example.com/reset or reply here.":
        '<p>You can read more at <a href="https://help.example.com/reset" rel="noopener noreferrer nofollow" '
        'target="_blank">https://help.example.com/reset</a> or reply here.</p>',
    "Run `pip install -U app` and then:\n\n```\napp --version\n```":
        "<p>Run <code>pip install -U app</code> and then:</p>\n<pre><code>app --version\n</code></pre>",
    "> I can't log in\n\nThat usually means the session expired. Try again?":
        "<blockquote>\n<p>I can't log in</p>\n</blockquote>\n<p>That usually means the session expired. Try again?</p>",
    "Type `&amp;` for an ampersand":
        "<p>Type <code>&amp;amp;</code> for an ampersand</p>",
}
ORDINARY_VISITOR = {
    "Hi, I need help with my order": "Hi, I need help with my order",
    "ok thanks!": "ok thanks!",
    "Can you check https://shop.example.com/orders/48213 please?":
        'Can you check <a href="https://shop.example.com/orders/48213" rel="noopener noreferrer nofollow" '
        'target="_blank">https://shop.example.com/orders/48213</a> please?',
    "I tried twice & it still says the link expired <sigh>":
        "I tried twice &amp; it still says the link expired &lt;sigh&gt;",
    "Line one\nline two\nsee www.example.org.": 'Line one<br>line two<br>see <a href="http://www.example.org" '
        'rel="noopener noreferrer nofollow" target="_blank">www.example.org</a>.',
    "mail me at sam@my-shop.com": 'mail me at sam@my<a href="http://-shop.com" rel="noopener noreferrer nofollow" '
        'target="_blank">-shop.com</a>',  # bleach's own way with e-mail addresses, kept
}


def test_a_long_visitor_text_keeps_its_links():
    text = "Ok. Done. 1.5 e.g. etc. " * 180 + "see https://shop.example.com/orders/48213 please"
    assert len(text) <= N
    assert rendering.render_plain(text).endswith(
        'see <a href="https://shop.example.com/orders/48213" rel="noopener noreferrer nofollow" target="_blank">'
        'https://shop.example.com/orders/48213</a> please')
    # Past the bounds, the text is still shown, only without links.
    many = "x.co " * 900
    assert rendering.render_plain(many) == many


@pytest.mark.parametrize("text, html", ORDINARY_AGENT.items())
def test_ordinary_agent_markdown_renders_as_before(text, html):
    assert rendering.render_markdown(text) == html


@pytest.mark.parametrize("text, html", ORDINARY_VISITOR.items())
def test_ordinary_visitor_text_renders_as_before(text, html):
    assert rendering.render_plain(text) == html


def test_html_made_ahead_is_stored_only_for_its_own_text():
    made = rendering.render(rendering.MARKDOWN, "**hello**")
    assert rendering.html_of(made, rendering.MARKDOWN, "**hello**") == "<p><strong>hello</strong></p>"
    assert rendering.html_of(made, rendering.MARKDOWN, "*bye*") == "<p><em>bye</em></p>"
    assert rendering.html_of(made, rendering.PLAIN, "**hello**") == "**hello**"
    refused = rendering.render(rendering.MARKDOWN, "[" * 3000)
    assert refused.html == "" and refused.refusal
    with pytest.raises(InvalidInput):
        rendering.html_of(refused, rendering.MARKDOWN, "[" * 3000)


# --- System notes ------------------------------------------------------------------------------------

SPOOF = "Helpdesk notice: verify your account at https://helpdesk-verify.com/login"


@pytest.mark.django_db
def test_a_system_note_never_makes_a_link_of_a_visitors_name():
    visitor = VisitorFactory()
    chat = start_chat(visitor, name=SPOOF, text="My name says it all: https://helpdesk-verify.com/login")
    services.chat_end(chat_public_id=chat.public_id, actor=Actor.for_visitor(visitor.pk))
    note = Message.objects.get(chat=chat, event="ended")
    assert note.text == f"{SPOOF} ended the chat."
    assert note.html == "Helpdesk notice: verify your account at https://helpdesk-verify.com/login ended the chat."
    assert "<a" not in note.html
    # The visitor's own message is still linkified, as visitor text always is.
    first = Message.objects.get(chat=chat, seq=1)
    assert '<a href="https://helpdesk-verify.com/login"' in first.html


@pytest.mark.django_db
def test_a_system_note_escapes_and_never_links_an_agents_name():
    agent = AgentFactory(first_name="<b>Alex</b>", last_name="www.helpdesk-verify.com")
    chat = start_chat()
    services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    note = Message.objects.get(chat=chat, event="accepted")
    assert note.html == "&lt;b&gt;Alex&lt;/b&gt; www.helpdesk-verify.com joined the chat."


@pytest.mark.django_db
def test_an_agents_message_past_the_limits_is_refused_and_not_stored():
    agent = AgentFactory()
    chat = start_chat()
    services.chat_accept(chat_public_id=chat.public_id, agent=agent)
    with pytest.raises(InvalidInput, match="nested"):
        services.message_post(chat_public_id=chat.public_id, actor=Actor.for_agent(agent), client_id="deep",
                              text="1. " * 1666)
    assert not Message.objects.filter(chat=chat, client_id="deep").exists()


# --- Over the sockets ------------------------------------------------------------------------------


@database_sync_to_async
def _stored_html(chat_id: str, client_id: str) -> str:
    return Message.objects.get(chat__public_id=chat_id, client_id=client_id).html


async def _accepted_chat(agent, visitor, text="Hello"):
    chat = await live.start_chat(visitor, text=text)
    await agent.send({"type": "chat.accept", "chat": chat["id"]})
    await agent.expect("chat", **{"chat.id": chat["id"], "chat.status": "active"})
    return chat


@pytest.mark.django_db(transaction=True)
async def test_the_widget_and_the_console_get_the_same_html_as_before():
    agent, _ = await live.agent(await database_sync_to_async(AgentFactory)())
    visitor, _ = await live.visitor()
    chat = await _accepted_chat(agent, visitor)
    for number, (text, html) in enumerate(ORDINARY_AGENT.items()):
        await agent.send({"type": "message.send", "chat": chat["id"], "client_id": f"a{number}", "text": text})
        ack = await agent.expect("message.ack", **{"message.client_id": f"a{number}"})
        shown = await visitor.expect_message(client_id=f"a{number}")
        assert ack["message"]["html"] == shown["html"] == html == await _stored_html(chat["id"], f"a{number}")
    for number, (text, html) in enumerate(ORDINARY_VISITOR.items()):
        await visitor.send({"type": "message.send", "chat": chat["id"], "client_id": f"v{number}", "text": text})
        ack = await visitor.expect("message.ack", **{"message.client_id": f"v{number}"})
        shown = await agent.expect_message(client_id=f"v{number}")
        assert ack["message"]["html"] == shown["html"] == html
    await agent.close()
    await visitor.close()


@pytest.mark.django_db(transaction=True)
async def test_an_agents_pathological_message_is_refused_and_other_chats_are_answered_meanwhile():
    """The worst messages are answered ``invalid`` naming their client_id (never ``internal``, which the
    console would resend forever), and a visitor in another chat is answered all the while."""
    agent, _ = await live.agent(await database_sync_to_async(AgentFactory)())
    visitor, _ = await live.visitor()
    chat = await _accepted_chat(agent, visitor)
    other, _ = await live.visitor()
    other_chat = await live.start_chat(other, text="Anyone there?", client_id="o0")
    await other.expect("message.ack", **{"message.client_id": "o0"})

    worst = ["[" * N, "1. " * (N // 3), "* " * 2000 + "x", "[`]`" * 200 + "x" * 4000, "x\n=\n" * 600,
             "<blockquote>" * 400 + "x"]
    for number, text in enumerate(worst):
        await agent.send({"type": "message.send", "chat": chat["id"], "client_id": f"bad{number}", "text": text})
        await other.send({"type": "message.send", "chat": other_chat["id"], "client_id": f"o{number + 1}",
                          "text": f"still there? {number}"})
        await other.send({"type": "ping"})
    for number in range(len(worst)):
        await other.expect("message.ack", **{"message.client_id": f"o{number + 1}"})
        await other.expect("pong")
    for number in range(len(worst) - 1):
        error = await agent.expect("error", client_id=f"bad{number}")
        assert error["code"] == "invalid" and error["frame"] == "message.send", error
        assert error["message"].startswith("This message has too")
    # The last one is within the limits: rendered and stored.
    await agent.expect("message.ack", **{"message.client_id": f"bad{len(worst) - 1}"})
    assert all(frame.get("code") != "internal" for frame in agent.seen)
    await other.send({"type": "ping"})
    await other.expect("pong")
    for socket in (agent, visitor, other):
        await socket.close()


def test_the_limits_are_documented():
    protocol = open("docs/protocol.md", encoding="utf-8").read()
    for number in (rendering.MAX_NESTING, rendering.MAX_MARKS, rendering.MAX_LINKS, rendering.MAX_ELEMENTS):
        assert re.search(rf"\b{number:,}\b", protocol), number
