#!/usr/bin/env python3
"""The web console in headless Chromium against a real omnichatd and a fake network.

Run through Tests/UI/run.sh (make test-ui), which starts both. Plain Python and
Selenium: prints each check, exits non-zero at the first failure, fails on any
SEVERE browser console entry, and writes a screenshot of each page.
"""
import argparse
import concurrent.futures
import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

ADMIN = ("admin@example.com", "admin-pass-123")
WAIT = 15
SECRET = "test-secret"

args = None
driver = None
console_entries = []
checks = 0


class Failure(Exception):
    pass


def ok(what):
    global checks
    checks += 1
    print(f"ok {checks} - {what}", flush=True)


def check(cond, what):
    if not cond:
        raise Failure(what)
    ok(what)


# --- HTTP helpers -----------------------------------------------------------

def api(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(args.base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


def login_api(email, password):
    status, body = api("POST", "/api/v1/auth/login", {"email": email, "password": password})
    if status != 200:
        raise Failure(f"API login for {email} answered {status}: {body}")
    return body["token"], body["user"]


UPDATE_ID = [int(time.time() * 1000) % 1_000_000_000]


def telegram_update(chat_id, first_name, text=None, **fields):
    """A Telegram message update; fields (photo, location, caption...) go into the message."""
    UPDATE_ID[0] += 1
    message = {
        "message_id": UPDATE_ID[0], "date": int(time.time()),
        "chat": {"id": chat_id, "type": "private", "first_name": first_name},
        "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
    }
    if text is not None:
        message["text"] = text
    message.update(fields)
    return {"update_id": UPDATE_ID[0], "message": message}


def post_update(update):
    req = urllib.request.Request(args.base + "/webhooks/telegram", data=json.dumps(update).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 200:
            raise Failure(f"webhook answered {r.status}")


def customer_says(chat_id, name, text=None, **fields):
    req = urllib.request.Request(
        args.base + "/webhooks/telegram", data=json.dumps(telegram_update(chat_id, name, text, **fields)).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    for _ in range(30):
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.status != 200:
                    raise Failure(f"webhook answered {r.status}")
                return
        except urllib.error.HTTPError as e:
            # As networks do: a 503 (the store busy) is retried after Retry-After.
            if e.code != 503:
                raise Failure(f"webhook answered {e.code}")
            time.sleep(float(e.headers.get("Retry-After") or "1"))
    raise Failure("webhook answered 503 thirty times")


def seed_rooms(count):
    """count customers each writing once, over keep-alive connections in parallel."""
    host = urllib.parse.urlparse(args.base)
    updates = [telegram_update(900000 + i, f"Seed {i:04d}", f"seed message {i}") for i in range(count)]
    chunks = [updates[i::8] for i in range(8)]

    def send(chunk):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        for u in chunk:
            # As networks do: a 503 (the store busy) is retried after Retry-After.
            for _ in range(30):
                conn.request("POST", "/webhooks/telegram", json.dumps(u),
                             {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
                r = conn.getresponse()
                r.read()
                if r.status != 503:
                    break
                time.sleep(float(r.getheader("Retry-After") or "1"))
            if r.status != 200:
                raise Failure(f"seeding webhook answered {r.status}")
        conn.close()

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(send, chunks))


def network_sent():
    with urllib.request.urlopen(args.network + "/sent", timeout=5) as r:
        return json.loads(r.read())


def network_control(settings):
    """Tell the fake network how to answer (see fake_network.py: fail_text, status, answer)."""
    req = urllib.request.Request(args.network + "/control", data=json.dumps(settings).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def sends_of(text):
    return sum(1 for s in network_sent() if s["method"] == "sendMessage" and isinstance(s["body"], dict) and s["body"].get("text") == text)


def room_messages(room_id, token):
    status, body = api("GET", f"/api/v1/rooms/{room_id}/messages?limit=200", token=token)
    if status != 200:
        raise Failure(f"listing the messages of {room_id} answered {status}: {body}")
    return body["messages"]


def wait_for(fn, what, timeout=WAIT):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # keep trying until the deadline
            last = e
        time.sleep(0.2)
    raise Failure(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# --- Browser helpers --------------------------------------------------------

def new_driver():
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    binary = os.environ.get("CHROMIUM_BIN") or next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
    if binary:
        opts.binary_location = binary
    chromedriver = os.environ.get("CHROMEDRIVER") or "/usr/bin/chromedriver"
    service = Service(chromedriver) if os.path.exists(chromedriver) else Service()
    d = webdriver.Chrome(options=opts, service=service)
    d.set_page_load_timeout(60)  # generous: the machine may be busy building
    d.set_script_timeout(10)
    return d


def el(css, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(lambda d: d.find_element(By.CSS_SELECTOR, css))
    except TimeoutException:
        raise Failure(f"timed out after {timeout}s waiting for {css}")


def visible(css, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()), None))
    except TimeoutException:
        raise Failure(f"timed out after {timeout}s waiting for a visible {css}")


def click(css, timeout=WAIT):
    """Click the first visible match, finding it again if the page re-rendered it meanwhile."""
    deadline = time.time() + timeout
    while True:
        try:
            visible(css, max(0.5, deadline - time.time())).click()
            return
        except StaleElementReferenceException:
            if time.time() > deadline:
                raise Failure(f"{css} kept being re-rendered for {timeout}s")
            time.sleep(0.1)


def element_with_text(css, text, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), None))
    except TimeoutException:
        raise Failure(f"timed out after {timeout}s waiting for {css} containing {text!r}")


def shot(name):
    """A screenshot of the page, which must not show a stray null, undefined or NaN."""
    stray = driver.execute_script(
        "const m = document.body.innerText.match(/\\b(null|undefined|NaN)\\b/);"
        "return m ? m[0] : null;")
    if stray:
        driver.save_screenshot(os.path.join(args.screenshots, "failure.png"))
        raise Failure(f"page {name} shows {stray!r} (a value that was not filled in)")
    path = os.path.join(args.screenshots, f"{name}.png")
    driver.save_screenshot(path)
    print(f"   screenshot {path}", flush=True)


def collect_console():
    for entry in driver.get_log("browser"):
        console_entries.append(entry)


def sign_in(email, password):
    driver.get(args.base + "/")
    el("#login-form")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    el("#room-list[data-rendered]")


def session_token():
    """The signed-in console's bearer token, from its stored session."""
    raw = driver.execute_script("return localStorage.getItem('omnichat.session')")
    return json.loads(raw)["token"] if raw else None


def sign_out():
    click("#sign-out")
    el("#login-form")
    el("#login-notice")
    collect_console()


def attr(css, name):
    return driver.find_element(By.CSS_SELECTOR, css).get_attribute(name)


def hex_rgb(value):
    v = value.strip().lstrip("#")
    return f"rgb({int(v[0:2], 16)}, {int(v[2:4], 16)}, {int(v[4:6], 16)})"


def check_switch_looks(css, on, what):
    """The switch's drawing matches its state: on = knob right on the accent colour, off = knob left, not accent."""
    look = driver.execute_script("""
        const sw = document.querySelector(arguments[0]);
        const track = sw.querySelector('.switch-track'), thumb = sw.querySelector('.switch-thumb');
        const tr = track.getBoundingClientRect(), th = thumb.getBoundingClientRect();
        return { checked: sw.getAttribute('aria-checked'), role: sw.getAttribute('role'),
                 right: th.left + th.width / 2 > tr.left + tr.width / 2,
                 bg: getComputedStyle(track).backgroundColor,
                 accent: getComputedStyle(document.documentElement).getPropertyValue('--primary') };
    """, css)
    accent = hex_rgb(look["accent"])
    good = (look["role"] == "switch" and look["checked"] == ("true" if on else "false")
            and look["right"] == on and (look["bg"] == accent) == on)
    desc = f"{what}: role=switch, aria-checked={str(on).lower()}, knob {'right on the accent colour' if on else 'left, grey'}"
    if not good:
        raise Failure(f"{desc} (found {look})")
    ok(desc)


# --- The scenario -----------------------------------------------------------

def main():
    global driver
    os.makedirs(args.screenshots, exist_ok=True)
    nonce = str(int(time.time()))
    admin_token, _ = login_api(*ADMIN)

    # Accounts made through the API: an agent and a supervisor with passwords.
    status, body = api("POST", "/api/v1/agents", {"name": "Alice Agent", "email": "alice@example.com",
                                                  "password": "alice-pass-123", "max_open_rooms": 5}, admin_token)
    check(status == 201, "API: created agent alice")
    alice_id = body["agent"]["id"]
    status, _ = api("POST", "/api/v1/agents", {"name": "Sam Supervisor", "email": "sam@example.com",
                                               "role": "supervisor", "password": "sam-pass-1234"}, admin_token)
    check(status == 201, "API: created supervisor sam")

    driver = new_driver()
    driver.get(args.base + "/")
    el("#login-form")
    shot("01-sign-in")

    # 1. The agent signs in and goes online.
    sign_in("alice@example.com", "alice-pass-123")
    ok("agent signed in through the form; the inbox list rendered")
    visible("#status-switch")
    check_switch_looks("#status-switch", False, "the status switch starts offline")
    click("#status-switch")
    wait_for(lambda: attr("#status-switch", "aria-checked") == "true", "the status switch to show online")
    check_switch_looks("#status-switch", True, "the status switch looks online")
    status, body = api("GET", f"/api/v1/agents/{alice_id}", token=admin_token)
    check(status == 200 and body["agent"]["online"] is True, "the online switch stored online=true (API)")

    # 2. A customer message arrives and appears without a reload. Alerts are on
    # (the browser's Notification is recorded here: headless Chromium shows none).
    driver.execute_script("""
        window.__notes = [];
        window.Notification = class { static permission = 'default';
          static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
          constructor(title, options) { window.__notes.push([title, options && options.body]); } close() {} };""")
    check(attr("#notify-toggle", "aria-pressed") == "false", "alerts start off")
    click("#notify-toggle")
    wait_for(lambda: attr("#notify-toggle", "aria-pressed") == "true", "the bell to show alerts on")
    driver.execute_script("window.__noReload = 'still-here';")
    customer_says(700001, "Carla Customer", f"Where is my order? {nonce}")
    element_with_text("a.room", "Carla Customer")
    check(driver.execute_script("return window.__noReload") == "still-here", "the new conversation appeared live, without a reload")
    notes = wait_for(lambda: driver.execute_script("return window.__notes.length ? window.__notes : null"), "the desktop notification")
    check(len(notes) == 1 and "Carla Customer" in notes[0][0] and notes[0][1] == f"Where is my order? {nonce}",
          f"a desktop notification names the customer and their message, once ({notes})")
    mark = wait_for(lambda: driver.execute_script(
        "const a = [...document.querySelectorAll('a.room')].find((e) => e.textContent.includes('Carla Customer'));"
        "const v = a && a.querySelector('.avatar'); const b = a && a.querySelector('.avatar-badge');"
        "return v && b ? [v.textContent, getComputedStyle(v).backgroundColor, b.getAttribute('aria-label')] : null;"), "the room's avatar")
    check(mark[0] == "CC" and mark[2] == "Telegram", f"the list shows the customer's initials with the channel as a badge ({mark})")
    # Read again if the live room list re-rendered the link meanwhile.
    room_id = wait_for(lambda: element_with_text("a.room", "Carla Customer").get_attribute("data-room-id"), "the room's id")
    # The agent's "Waiting on me" tab: their rooms with unread customer messages.
    click("#tab-unanswered")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"#room-list a.room[data-room-id='{room_id}']"),
             "the unread conversation under 'Waiting on me'")
    ok("the agent's 'Waiting on me' tab lists the conversation with an unread message")
    # Counts on the tabs, and what waits for her in the page title.
    wait_for(lambda: driver.execute_script(
        "const e = document.querySelector('[data-count-for=\"unanswered\"]'); return e && e.textContent === '1' && getComputedStyle(e).display !== 'none';"),
        "'Waiting on me' to show its count (1)")
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "[data-count-for='mine']").text == "1", "'Mine' to show its count (1)")
    wait_for(lambda: driver.title.startswith("(1) "), "the page title to count the conversation waiting on her")
    status, body = api("GET", "/api/v1/inbox/counts", token=login_api("alice@example.com", "alice-pass-123")[0])
    check(status == 200 and body["counts"]["mine"] == 1 and body["counts"]["unanswered"] == 1 and "waiting" not in body["counts"],
          "the counts route gives the agent's tabs (API)")
    ok("the tabs show their counts and the title says how many wait")
    click(f"a.room[data-room-id='{room_id}']")
    el("#timeline[data-loaded]")
    element_with_text("#timeline .msg-in", f"Where is my order? {nonce}")
    ok("the conversation shows the customer's message")
    click("#tab-mine")
    el(f"#room-list a.room[data-room-id='{room_id}']")

    # 3. The agent replies with Enter; the fake network receives it.
    reply = f"Your order ships today {nonce}"
    box = visible("#reply-text")
    box.send_keys(reply)
    box.send_keys(Keys.ENTER)
    wait_for(lambda: any(s["method"] == "sendMessage" and isinstance(s["body"], dict) and s["body"].get("text") == reply
                         for s in network_sent()), "the fake network to receive the reply")
    ok("the fake network received sendMessage with the reply text")
    element_with_text("#timeline .msg-out", reply)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".msg-out .delivery[data-status='delivered']"),
             "the reply to show Delivered")
    sender = wait_for(lambda: next((e.find_element(By.CSS_SELECTOR, ".sender").text for e in driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-out")
                                    if reply in e.text and e.find_elements(By.CSS_SELECTOR, ".sender")), None), "the reply to name its sender")
    check(sender == "Alice Agent", f"the reply names the agent who sent it ({sender!r})")
    listed = next((m for m in room_messages(room_id, admin_token) if m.get("text") == reply), {})
    check(listed.get("sender_name") == "Alice Agent" and listed.get("sender_type") == "agent", "the message list names the sender (API)")
    ok("the reply shows its delivery status (Delivered)")

    # A second customer message appears in the open conversation live. Telegram's
    # whole-second time puts it before the reply it answers; it still shows after it.
    customer_says(700001, "Carla Customer", f"Thanks a lot {nonce}", date=int(time.time()) - 2)
    element_with_text("#timeline .msg-in", f"Thanks a lot {nonce}")
    check(driver.execute_script("return window.__noReload") == "still-here", "a new message appeared in the open conversation live")
    order = driver.execute_script("""
        const texts = [...document.querySelectorAll('#timeline .msg')].map((e) => e.textContent);
        return [texts.findIndex((x) => x.includes(arguments[0])), texts.findIndex((x) => x.includes(arguments[1]))];""",
        reply, f"Thanks a lot {nonce}")
    check(0 <= order[0] < order[1], f"the timeline keeps the stored order, not the network's whole-second time (reply at {order[0]}, answer at {order[1]})")
    api_order = [m.get("text") for m in room_messages(room_id, admin_token)]
    check(api_order.index(reply) < api_order.index(f"Thanks a lot {nonce}"), "the API gives the same order")
    # The customer edits that message: marked "edited", the earlier text on hover.
    UPDATE_ID[0] += 1
    edited_text = f"Thanks a lot, really {nonce}"
    edit = {"update_id": UPDATE_ID[0], "edited_message": {
        "message_id": UPDATE_ID[0] - 1, "date": int(time.time()) - 2, "edit_date": int(time.time()), "text": edited_text,
        "chat": {"id": 700001, "type": "private", "first_name": "Carla Customer"},
        "from": {"id": 700001, "is_bot": False, "first_name": "Carla Customer"}}}
    req = urllib.request.Request(args.base + "/webhooks/telegram", data=json.dumps(edit).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET})
    with urllib.request.urlopen(req, timeout=10) as r:
        check(r.status == 200, "the edit was accepted")
    mark = wait_for(lambda: next((e for e in driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-edited")
                                  if edited_text in e.text), None), "the edited message to show")
    label = mark.find_element(By.CSS_SELECTOR, ".edited")
    check(label.text == "edited" and f"Thanks a lot {nonce}" in (label.get_attribute("title") or ""),
          f"the edit is marked 'edited' with the earlier text on hover ({label.get_attribute('title')!r})")
    shot("02a-edited-and-order")

    # The customer blocks the bot, then unblocks it: centred service lines, live, not bubbles.
    for status in ("kicked", "member"):
        UPDATE_ID[0] += 1
        post_update({"update_id": UPDATE_ID[0], "my_chat_member": {
            "chat": {"id": 700001, "type": "private", "first_name": "Carla Customer"},
            "from": {"id": 700001, "is_bot": False, "first_name": "Carla Customer"}, "date": int(time.time()),
            "old_chat_member": {"status": "member" if status == "kicked" else "kicked", "user": {"id": 1, "is_bot": True, "first_name": "Bot"}},
            "new_chat_member": {"status": status, "user": {"id": 1, "is_bot": True, "first_name": "Bot"}}}})
    blocked = element_with_text("#timeline .msg-event[data-kind='blocked']", "Carla Customer blocked the bot")
    element_with_text("#timeline .msg-event[data-kind='unblocked']", "Carla Customer unblocked the bot")
    check("Unsupported" not in el("#timeline").text, "blocking the bot is a service line, not an 'Unsupported message' bubble")
    check(blocked.find_elements(By.CSS_SELECTOR, ".bubble") == [], "the service line is not a bubble")
    shot("02b-blocked-bot")

    # An internal note.
    click("#mode-note")
    note = visible("#reply-text")
    note.send_keys(f"VIP customer {nonce}")
    note.send_keys(Keys.ENTER)
    element_with_text("#timeline .msg-note", f"VIP customer {nonce}")
    ok("an internal note was added")
    status, body = api("GET", f"/api/v1/rooms/{room_id}/notes", token=admin_token)
    check(status == 200 and any(n["text"] == f"VIP customer {nonce}" for n in body["notes"]), "the note is stored (API)")
    # A teammate mentions her in a note: a toast, and (alerts on) a desktop notification.
    status, _ = api("POST", f"/api/v1/rooms/{room_id}/notes", {"text": f"@alice please double-check {nonce}"}, admin_token)
    check(status == 201, "the admin's note with a mention is stored (API)")
    wait_for(lambda: any("mentioned you in a note" in e.text and f"double-check {nonce}" in e.text
                         for e in driver.find_elements(By.CSS_SELECTOR, ".toast")), "the mention's toast")
    notes_seen = wait_for(lambda: driver.execute_script("return window.__notes.length > 1 ? window.__notes : null"), "the mention's notification")
    check("mentioned you" in notes_seen[-1][0] and f"double-check {nonce}" in notes_seen[-1][1], f"the mention is a desktop notification too ({notes_seen[-1]})")

    # A reply the network refuses for good: the reason and Retry; Retry sends it again.
    blocked = f"Are you still there? {nonce}"
    reason = "Forbidden: bot was blocked by the user"
    network_control({"fail_text": blocked, "status": 403, "answer": {"ok": False, "error_code": 403, "description": reason}})
    click("#mode-reply")
    box = visible("#reply-text")
    box.send_keys(blocked)
    box.send_keys(Keys.ENTER)
    blocked_id, failed_text = wait_for(lambda: next(((e.get_attribute("data-message-id"), e.text)
                                                     for e in driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-out")
                                                     if blocked in e.text and e.find_elements(By.CSS_SELECTOR, ".delivery[data-status='failed']")), None),
                                       "the refused reply to show Failed")
    check(reason in failed_text, "the failed reply shows the network's reason")
    stored = next((m for m in room_messages(room_id, admin_token) if str(m["id"]) == blocked_id), None)
    check(stored is not None and stored["delivery"]["status"] == "failed" and reason in (stored["delivery"].get("error") or ""),
          "the reply is stored as failed with the reason (API)")
    # Found afresh until displayed: a live event may re-render the message meanwhile.
    retry = visible(f"#timeline [data-message-id='{blocked_id}'] button.retry")
    check(retry is not None, "the failed reply has a Retry button")
    shot("02b-delivery-failed")
    sent_before = sends_of(blocked)
    network_control({"fail_text": None})
    click(f"#timeline [data-message-id='{blocked_id}'] button.retry")
    wait_for(lambda: sends_of(blocked) > sent_before, "the fake network to receive the retried text")
    ok(f"Retry sent the text to the network again ({sent_before} -> {sends_of(blocked)} sends)")
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, f"#timeline [data-message-id='{blocked_id}'] .delivery[data-status='delivered']"),
             "the retried reply to show Delivered")
    check(not driver.find_elements(By.CSS_SELECTOR, f"#timeline [data-message-id='{blocked_id}'] button.retry"),
          "the retried reply shows Delivered and no Retry button")
    stored = wait_for(lambda: next((m for m in room_messages(room_id, admin_token)
                                    if str(m["id"]) == blocked_id and m["delivery"]["status"] == "delivered"), None), "the API to show it delivered")
    ok("the retried reply is stored as delivered (API)")

    # A photo from the customer: fetched through the media route, shown from a blob: URL.
    photo_id = f"photo-{nonce}"
    customer_says(700001, "Carla Customer", caption=f"My receipt {nonce}",
                  photo=[{"file_id": f"thumb-{nonce}", "width": 12, "height": 8}, {"file_id": photo_id, "width": 24, "height": 16}])
    element_with_text("#timeline .msg-in", f"My receipt {nonce}")
    loaded = wait_for(lambda: driver.execute_script("""
        const li = [...document.querySelectorAll('#timeline .msg-in')].find((e) => e.textContent.includes(arguments[0]));
        const i = li && li.querySelector('img.media-img');
        if (!i) return null;
        i.scrollIntoView({ block: 'center' });
        return i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0 ? [i.src, i.naturalWidth] : null;""", f"My receipt {nonce}"),
        "the photo to load from a blob: URL")
    check(loaded[1] == 160, f"the customer's photo is shown from {loaded[0][:5]}… ({loaded[1]} px wide, as the fake network served it)")
    check(any(x["method"] == "getFile" and isinstance(x["body"], dict) and x["body"].get("file_id") == photo_id for x in network_sent()),
          "the media route asked the network for the photo (getFile)")

    # A location: a map link.
    customer_says(700001, "Carla Customer", location={"latitude": 52.3731, "longitude": 4.8922})
    el("#timeline .msg-in a.location")
    # Read in one go, again if the timeline re-rendered the link meanwhile.
    href, target = wait_for(lambda: (lambda link: (link.get_attribute("href"), link.get_attribute("target")))(
        driver.find_element(By.CSS_SELECTOR, "#timeline .msg-in a.location")), "the location link's attributes")
    check("52.3731" in href and "4.8922" in href and target == "_blank", f"the location shows as a map link ({href})")
    driver.execute_script("const s = document.querySelector('.timeline-scroll'); s.scrollTop = s.scrollHeight;")
    shot("02-inbox-conversation")

    # Phone width: the conversation alone, then the list.
    driver.set_window_size(390, 844)
    time.sleep(0.3)
    shot("03-phone-conversation")
    overflow = driver.execute_script("const e = document.scrollingElement; return [e.scrollHeight - e.clientHeight, e.scrollWidth - e.clientWidth];")
    check(overflow[0] <= 1 and overflow[1] <= 1, f"phone width: the page itself does not scroll, only its panes (overflow {overflow})")
    click(".conv-head .back")
    visible("a.room")
    shot("04-phone-inbox")
    ok("phone width: back from the conversation to the list")
    driver.set_window_size(1280, 900)
    click("a.room")
    el("#timeline[data-loaded]")

    # 4. The agent resolves.
    click("#resolve-room")
    wait_for(lambda: driver.find_element(By.ID, "conv-status").text == "Resolved", "the header to show Resolved")
    status, body = api("GET", f"/api/v1/rooms/{room_id}", token=admin_token)
    check(status == 200 and body["room"]["status"] == "resolved", "the room is resolved (API)")
    wait_for(lambda: not [e for e in driver.find_elements(By.CSS_SELECTOR, f"a.room[data-room-id='{room_id}']")],
             "the resolved room to leave the Mine tab")
    ok("the resolved room left the Mine tab live")
    # The open conversation tells its story in service lines: the session's divider first,
    # the assignment, and the resolve (live, without a reload).
    lines = wait_for(lambda: (lambda l: l if any("Resolved by Alice Agent" in x for x in l) else None)(
        [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-event")]), "the resolve's service line")
    first = driver.find_element(By.CSS_SELECTOR, "#timeline > li:first-child")
    check("session-divider" in (first.get_attribute("class") or "") and "New conversation" in first.text,
          f"the timeline opens with the session's divider ({first.text!r})")
    check(any(x.startswith("Assigned to Alice Agent") for x in lines), f"the assignment is a service line ({lines})")
    check(not driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-event .bubble"), "service lines are not bubbles")
    shot("05-resolved")
    # Offline again, so the seeded rooms below wait in the queue.
    click("#status-switch")
    wait_for(lambda: attr("#status-switch", "aria-checked") == "false", "the status switch to show offline")
    sign_out()
    ok("agent signed out")

    # 5. The admin switches on custom allocation in settings.
    sign_in(*ADMIN)
    driver.get(args.base + "/#/settings")
    url_input = visible("#allocation-url")
    allocation_url = args.network + "/allocate"
    url_input.clear()
    url_input.send_keys(allocation_url)
    check_switch_looks("#custom-allocation-switch", False, "the allocation switch starts off")
    click("#custom-allocation-switch")
    wait_for(lambda: attr("#custom-allocation-switch", "aria-checked") == "true", "the allocation switch to turn on")
    check_switch_looks("#custom-allocation-switch", True, "the allocation switch looks on at once")
    status, body = api("GET", "/api/v1/settings", token=admin_token)
    check(status == 200 and body["custom_allocation"]["enabled"] is True and body["custom_allocation"]["webhook_url"] == allocation_url,
          "custom allocation is stored enabled with its webhook URL (API)")
    driver.refresh()
    visible("#custom-allocation-switch")
    check_switch_looks("#custom-allocation-switch", True, "after a reload the allocation switch shows the stored setting")
    shot("06-settings")
    click("#custom-allocation-switch")
    wait_for(lambda: attr("#custom-allocation-switch", "aria-checked") == "false", "the allocation switch to turn off")
    check_switch_looks("#custom-allocation-switch", False, "the allocation switch looks off again")
    status, body = api("GET", "/api/v1/settings", token=admin_token)
    check(status == 200 and body["custom_allocation"]["enabled"] is False, "custom allocation is stored disabled (API)")

    # Settings › Channels: each channel's health, as the API gives it.
    click("#settings-tab-channels")
    el("section[data-loaded] #channels-table")
    check(driver.current_url.endswith("#/settings/channels") and attr("a.navlink[data-page='settings']", "aria-current") == "page",
          "Channels is a tab of Settings (the navigation marks Settings)")
    channel = next(c for c in api("GET", "/api/v1/channels", token=admin_token)[1]["channels"] if c["id"] == "telegram")
    row = "#channels-table tr[data-channel-id='telegram']"
    st = channel["status"]
    expected = ("circuit" if st["circuit"] == "open" else "failing" if st["failed_deliveries_24h"] > 0
                else "quiet" if not st["last_webhook_at"] else "ok")
    check(attr(row, "data-health") == expected and el(f"{row} [data-field='failed']").text == str(st["failed_deliveries_24h"])
          and el(f"{row} [data-field='pending']").text == str(st["pending_deliveries"]),
          f"the channels page shows the channel's health ({expected}), waiting and failed deliveries as the API counts them")
    check("ago" in el(row).text and el(f"{row} [data-field='circuit']").text == ("Paused" if st["circuit"] == "open" else "Flowing"),
          "the channels page shows the last message received and the delivery circuit")
    shot("06g-settings-channels")

    # Divisions: add, rename, make default (checked through the API).
    status, body = api("GET", "/api/v1/divisions", token=admin_token)
    old_default = next(d["id"] for d in body["divisions"] if d["is_default"])
    driver.get(args.base + "/#/team")
    visible("#division-name").send_keys(f"Billing {nonce}")
    click("#add-division-submit")
    division = wait_for(lambda: next((d for d in api("GET", "/api/v1/divisions", token=admin_token)[1]["divisions"]
                                      if d["name"] == f"Billing {nonce}"), None), "the new division in the API")
    ok("team: a division was added (API)")
    div_id = division["id"]
    row_css = f"#divisions-table tr[data-division-id='{div_id}']"
    click(f"{row_css} .rename-division")
    name_input = visible("#division-new-name")
    name_input.clear()
    name_input.send_keys(f"Billing Desk {nonce}")
    click("#division-rename-save")
    wait_for(lambda: any(d["id"] == div_id and d["name"] == f"Billing Desk {nonce}"
                         for d in api("GET", "/api/v1/divisions", token=admin_token)[1]["divisions"]), "the renamed division in the API")
    element_with_text(row_css, f"Billing Desk {nonce}")
    ok("team: the division was renamed (API and page)")
    click(f"{row_css} .make-default")
    wait_for(lambda: any(d["id"] == div_id and d["is_default"] for d in api("GET", "/api/v1/divisions", token=admin_token)[1]["divisions"]),
             "the division to become the default in the API")
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, f"{row_css} .make-default"), "the page to show the new default")
    ok("team: the division was made the default (API and page)")
    shot("06b-team-divisions")
    api("POST", f"/api/v1/divisions/{old_default}/default", token=admin_token)

    # Transfer: a room of Bob's to Alice, then back to a division's queue.
    status, body = api("POST", "/api/v1/agents", {"name": "Bob Backup", "email": "bob@example.com",
                                                  "password": "bob-pass-1234", "max_open_rooms": 3}, admin_token)
    check(status == 201, "API: created agent bob")
    bob_id = body["agent"]["id"]
    bob_token, _ = login_api("bob@example.com", "bob-pass-1234")
    alice_token, _ = login_api("alice@example.com", "alice-pass-123")
    api("PUT", "/api/v1/me/status", {"online": True}, bob_token)
    customer_says(700002, "Dora Customer", f"Can someone help me? {nonce}")
    dora = wait_for(lambda: next((r for r in api("GET", "/api/v1/rooms?assignee=me", token=bob_token)[1]["rooms"]
                                  if "Dora" in json.dumps(r)), None), "Dora's room to be assigned to Bob")
    dora_id = dora["id"]
    api("PUT", "/api/v1/me/status", {"online": True}, alice_token)
    driver.get(args.base + f"/#/inbox/{dora_id}")
    el("#timeline[data-loaded]")
    click("#transfer-room")
    offered = [o.get_attribute("value") for o in Select(visible("#transfer-agent")).options]
    check(str(alice_id) in offered and str(bob_id) not in offered, "the transfer dialog offers Alice, not Bob who has the room already")
    Select(visible("#transfer-agent")).select_by_value(str(alice_id))
    shot("06c-transfer-dialog")
    click("#transfer-submit")
    wait_for(lambda: (api("GET", f"/api/v1/rooms/{dora_id}", token=admin_token)[1]["room"].get("assignee") or {}).get("id") == alice_id,
             "the room to be Alice's in the API")
    ok("transfer to an agent: the room is now Alice's (API)")
    element_with_text(".conv-head", "Alice Agent")
    api("PUT", "/api/v1/me/status", {"online": False}, alice_token)
    api("PUT", "/api/v1/me/status", {"online": False}, bob_token)
    click("#transfer-room")
    Select(visible("#transfer-division")).select_by_value(str(div_id))
    check(driver.find_element(By.ID, "transfer-to-division").is_selected(), "choosing a division selects 'A division'")
    click("#transfer-submit")
    moved = wait_for(lambda: (lambda r: r if r["division_id"] == div_id and r["status"] == "waiting" else None)(
        api("GET", f"/api/v1/rooms/{dora_id}", token=admin_token)[1]["room"]), "the room to wait in the new division (API)")
    ok(f"transfer to a division: the room waits in {moved['division_id']} (API)")

    # The customer's properties: added in the dialog, kept on the customer (checked through the API).
    click("#customer-room")
    click("#property-add")
    visible("#customer-properties li:last-child .property-key").send_keys("plan")
    visible("#customer-properties li:last-child .property-value").send_keys("gold")
    shot("06d-customer-properties")
    click("#properties-save")
    wait_for(lambda: api("GET", f"/api/v1/rooms/{dora_id}/customer_properties", token=admin_token)[1].get("properties")
             == [{"key": "plan", "value": "gold"}], "the property stored (API)")
    ok("customer properties: added in the conversation's customer dialog (API)")

    # The customer panel beside the conversation: who she is, and (merged by a supervisor)
    # her conversation on the other contact; then separated again.
    panel = visible("#customer-panel[data-loaded]")
    check("Dora Customer" in visible("#customer-name").text and el("#customer-network-id").text == "700002",
          "the customer panel names the customer and her network id")
    check(visible("#customer-initials").text == "DC", "the panel shows the customer's initials")
    dora_contact = api("GET", f"/api/v1/rooms/{dora_id}", token=admin_token)[1]["room"]["contact"]["id"]
    click("#panel-merge")
    visible("#merge-search").send_keys("Carla")
    click(".merge-candidate")
    element_with_text("#panel-linked", "Carla Customer")
    element_with_text("#panel-other-rooms", "Carla Customer")
    linked = api("GET", f"/api/v1/contacts/{dora_contact}", token=admin_token)[1]["linked"]
    check([c["name"] for c in linked] == ["Carla Customer"], f"merged through the panel: Dora and Carla are one person (API: {linked})")
    shot("06e-customer-panel-merged")
    click("#panel-linked .unmerge")
    wait_for(lambda: api("GET", f"/api/v1/contacts/{dora_contact}", token=admin_token)[1]["linked"] == [], "the contacts to be separate again (API)")
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "#panel-linked"), "the panel to drop the other contact")
    audit = api("GET", "/api/v1/audit?action=contact.", token=admin_token)[1]["entries"]
    check({e["action"] for e in audit} >= {"contact.merge", "contact.unmerge"}, "the merge and the unmerge are in the audit log")
    click("#customer-panel-close")
    check(not panel.is_displayed() and attr("#customer-room", "aria-expanded") == "false", "the panel closes; the Customer button reopens it")
    click("#customer-room")
    visible("#customer-panel[data-loaded]")

    # A group chat: the room is titled with the group's name, each message names its sender.
    for sender, words in ((710001, "Who can help?"), (710002, "Me too")):
        UPDATE_ID[0] += 1
        post_update({"update_id": UPDATE_ID[0], "message": {
            "message_id": UPDATE_ID[0], "date": int(time.time()), "text": f"{words} {nonce}",
            "chat": {"id": -1007100, "type": "supergroup", "title": "Ops Team"},
            "from": {"id": sender, "is_bot": False, "first_name": "Gil" if sender == 710001 else "Hal"}}})
    group = wait_for(lambda: next((r for r in api("GET", "/api/v1/rooms?limit=100", token=admin_token)[1]["rooms"]
                                   if r.get("title") == "Ops Team"), None), "the group's room (API)")
    driver.get(args.base + f"/#/inbox/{group['id']}")
    el("#timeline[data-loaded]")
    check(visible("#conv-name").text == "Ops Team", "the group's room is titled with the group's name")
    element_with_text("#timeline .msg-in", f"Who can help? {nonce}")
    senders = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#timeline .msg-in .sender")]
    check(senders[-2:] == ["Gil", "Hal"], f"each group message names its sender ({senders})")
    shot("06f-group-chat")

    # Team: edit Bob's capacity and role, then deactivate him (checked through the API).
    driver.get(args.base + "/#/team")
    agent_row = f"#agents-table tr[data-agent-id='{bob_id}']"
    click(f"{agent_row} .edit-agent")
    capacity_input = visible("#edit-agent-capacity")
    capacity_input.clear()
    capacity_input.send_keys("7")
    Select(visible("#edit-agent-role")).select_by_value("supervisor")
    click("#edit-agent-save")
    wait_for(lambda: (lambda a: a["max_open_rooms"] == 7 and a["role"] == "supervisor")(
        api("GET", f"/api/v1/agents/{bob_id}", token=admin_token)[1]["agent"]), "Bob's new capacity and role in the API")
    ok("team: the edit dialog stored capacity 7 and role supervisor (API)")
    element_with_text(agent_row, "/ 7")
    click(f"{agent_row} .deactivate-agent")
    click("#confirm-deactivate")
    wait_for(lambda: api("GET", f"/api/v1/agents/{bob_id}", token=admin_token)[1]["agent"]["active"] is False, "Bob to be inactive in the API")
    visible(f"{agent_row} .reactivate-agent")
    ok("team: Bob was deactivated (API), the page offers Reactivate")

    # Reports: the table, sorting and the chart.
    driver.get(args.base + "/#/reports")
    el("#agents-report tbody tr")
    el("#volume-chart svg.chart polyline")
    click("#agents-report [data-sort='messages_sent']")
    wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "#agents-report th[aria-sort='descending'] [data-sort='messages_sent']"),
             "the table to sort by messages sent")
    ok("reports: agent table sorts, the SVG chart is drawn")
    # Day-by-day charts in the browser's time zone; at 1366 px nothing is clipped.
    el("#times-chart[data-loaded] svg.chart")
    el("#conversations-chart svg.chart polyline")
    zone = driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone")
    check(zone in el("#report-zone").text, f"the reports say their days are in the page's time zone ({zone})")
    driver.set_window_size(1366, 768)
    time.sleep(0.3)
    fits = driver.execute_script("const w = document.getElementById('agents-report-wrap'); return [w.scrollWidth, w.clientWidth];")
    check(fits[0] <= fits[1], f"the agents table fits at 1366 px (content {fits[0]} px in {fits[1]} px)")
    inside = driver.execute_script("""
        return [...document.querySelectorAll('svg.chart')].every((s) => {
          const labels = [...s.querySelectorAll('.day-label')];
          const last = labels[labels.length - 1];
          if (!last) return true;
          const b = last.getBBox();
          return b.x >= 0 && b.x + b.width <= s.viewBox.baseVal.width + 0.5;
        });""")
    check(inside, "every chart's last day label lies inside the chart")
    shot("07-reports")
    driver.set_window_size(1280, 900)
    # CSV: the button fetches the report with the token and hands the browser a blob: link to save.
    # The page's CSP (connect-src 'self') forbids fetching blob: URLs, so the test keeps the Blob objects themselves.
    driver.execute_script("""
        window.__downloads = [];
        window.__blobs = {};
        const create = URL.createObjectURL;
        URL.createObjectURL = (blob) => { const u = create(blob); window.__blobs[u] = blob; return u; };
        const click = HTMLAnchorElement.prototype.click;
        HTMLAnchorElement.prototype.click = function () {
          if (this.hasAttribute('download')) { window.__downloads.push({ href: this.href, name: this.download }); return; }
          return click.call(this);
        };""")
    for which, header, expect in (("agents", "agent_id,agent_name,agent_email,rooms_assigned", "Alice Agent"),
                                  ("channels", "date,channel,inbound,outbound,rooms_opened", "telegram")):
        click(f"#csv-{which}")
        dl = wait_for(lambda: driver.execute_script("return window.__downloads.pop() || null"), f"the {which} CSV download")
        csv_text = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "const b = window.__blobs[arguments[0]]; if (!b) { done(['no blob', '']); return; }"
            "b.text().then((t) => done([b.type, t]), (e) => done(['error', String(e)]));",
            dl["href"])
        check(dl["href"].startswith("blob:") and dl["name"].endswith(".csv") and csv_text[1].startswith(header) and expect in csv_text[1],
              f"the {which} CSV link gives {dl['name']} ({csv_text[0]}, {len(csv_text[1].splitlines())} lines, header {header.split(',')[0]}…)")
    sign_out()

    # 6. A supervisor invites an agent; the invitation page sets the password.
    sign_in("sam@example.com", "sam-pass-1234")
    driver.get(args.base + "/#/team")
    visible("#agent-name").send_keys("Ivy Invited")
    visible("#agent-email").send_keys("ivy@example.com")
    click("#add-agent-submit")
    withheld = wait_for(lambda: driver.find_element(By.ID, "invitation-withheld").text.strip(), "the invitation notice")
    check("admin" in withheld and not driver.find_elements(By.ID, "invitation-url"),
          "the supervisor's invitation is created, its link shown to admins only")
    shot("08-team-invited")
    # An admin re-sends it and gets the link (what the console's "New invitation" does for them).
    ivy = next(a for a in api("GET", "/api/v1/agents", token=admin_token)[1]["agents"] if a["email"] == "ivy@example.com")
    status, body = api("POST", f"/api/v1/agents/{ivy['id']}/invitation", token=admin_token)
    link = body["invitation"]["url"]
    check(status == 200 and "/invitations/" in link, "the admin got the invitation link")

    # Saved replies: the supervisor saves two through the Team page's editor.
    greet_text = f"Hello! How can I help you today? {nonce}"
    ship_text = f"Your parcel leaves our warehouse today. {nonce}"
    sam_token, _ = login_api("sam@example.com", "sam-pass-1234")
    click("#to-saved-replies")
    visible("#saved-rows-empty")
    for i, (shortcut, text) in enumerate((("greet", greet_text), ("ship-today", ship_text)), start=1):
        click("#saved-add")
        visible(f"#saved-rows > li:nth-child({i}) .saved-shortcut-input").send_keys(shortcut)
        visible(f"#saved-rows > li:nth-child({i}) .saved-text-input").send_keys(text)
    check(driver.find_element(By.ID, "saved-dirty").text == "Unsaved changes", "saved replies editor: two rows added, marked unsaved")
    click("#saved-replies-save")
    expected = [{"shortcut": "greet", "text": greet_text}, {"shortcut": "ship-today", "text": ship_text}]
    wait_for(lambda: api("GET", "/api/v1/quick-replies", token=sam_token)[1]["quick_replies"] == expected, "the two saved replies in the API")
    ok("saved replies editor: Save stored both replies, in order (GET /quick-replies)")
    element_with_text("#saved-dirty", "Saved (2)")
    driver.execute_script("document.getElementById('saved-replies').scrollIntoView({ block: 'start' });")
    shot("08b-saved-replies-editor")
    # An invalid shortcut: the page shows the API's own 422 message and marks the field.
    bad = {"shortcut": "Bad Shortcut!", "text": "Not stored"}
    status, body = api("PUT", "/api/v1/quick-replies", {"quick_replies": expected + [bad]}, sam_token)
    check(status == 422 and body["error"]["message"], f"API: an invalid shortcut is refused (422: {body['error']['message']})")
    api_message = body["error"]["message"]
    click("#saved-add")
    visible("#saved-rows > li:nth-child(3) .saved-shortcut-input").send_keys(bad["shortcut"])
    visible("#saved-rows > li:nth-child(3) .saved-text-input").send_keys(bad["text"])
    click("#saved-replies-save")
    shown = wait_for(lambda: element_with_text("#saved-replies-error", api_message).text, "the error's text")
    check(api_message in shown, f"saved replies editor: the page shows the API's message ({shown!r})")
    check(attr("#saved-rows > li:nth-child(3) .saved-shortcut-input", "aria-invalid") == "true"
          and driver.switch_to.active_element.get_attribute("id") == attr("#saved-rows > li:nth-child(3) .saved-shortcut-input", "id"),
          "the entry the message names is marked invalid and focused")
    check(api("GET", "/api/v1/quick-replies", token=sam_token)[1]["quick_replies"] == expected, "the invalid list was not stored (API)")
    # Chromium logs that expected 422 as a SEVERE "Failed to load resource"; it is the one allowed.
    collect_console()
    refused = [e for e in console_entries if e.get("level") == "SEVERE" and "/api/v1/quick-replies" in e.get("message", "") and "422" in e.get("message", "")]
    check(len(refused) == 1, "the browser saw the one expected 422 for the invalid list")
    console_entries.remove(refused[0])
    shot("08c-saved-replies-error")
    click("#saved-rows > li:nth-child(3) .saved-delete")
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "#saved-rows > li")) == 2, "the invalid row to be deleted")
    click("#saved-replies-save")
    element_with_text("#saved-dirty", "Saved (2)")
    check(not driver.find_element(By.ID, "saved-replies-error").text
          and api("GET", "/api/v1/quick-replies", token=sam_token)[1]["quick_replies"] == expected,
          "deleting the invalid row and saving again stores the two replies, no error")
    sign_out()
    driver.get(link)
    el("#invite-form")
    shot("09-invitation")
    driver.find_element(By.NAME, "new-password").send_keys("ivy-new-pass-1")
    driver.find_element(By.NAME, "confirm-password").send_keys("ivy-new-pass-1")
    driver.find_element(By.ID, "invite-submit").click()
    el("#room-list[data-rendered]")
    ok("the invitation page set the password and signed the agent in")
    status, _ = api("POST", "/api/v1/auth/login", {"email": "ivy@example.com", "password": "ivy-new-pass-1"})
    check(status == 200, "the invited agent can sign in with the new password (API)")
    sign_out()

    # Saved replies in the reply box: the agent inserts one with the button, one with "/", and sends them.
    api("PUT", "/api/v1/me/status", {"online": True}, alice_token)
    customer_says(700003, "Erin Customer", f"Hi, is anyone there? {nonce}")
    erin = wait_for(lambda: next((r for r in api("GET", "/api/v1/rooms?assignee=me", token=alice_token)[1]["rooms"]
                                  if "Erin" in json.dumps(r)), None), "Erin's room to be assigned to Alice")
    sign_in("alice@example.com", "alice-pass-123")
    driver.get(args.base + f"/#/inbox/{erin['id']}")
    el("#timeline[data-loaded]")
    check(visible("#saved-replies-btn").text == "Saved replies" and el("#reply-extras summary").text.startswith("Buttons for the customer"),
          "the reply box has 'Saved replies' and, apart, 'Buttons for the customer'")
    box = visible("#reply-text")
    options = lambda css: [o.get_attribute("data-shortcut") for o in driver.find_elements(By.CSS_SELECTOR, f"{css} [role='option']") if o.is_displayed()]
    click("#saved-replies-btn")
    visible("#saved-picker")
    wait_for(lambda: options("#saved-picker") == ["greet", "ship-today"], "the picker to list both saved replies")
    check(driver.switch_to.active_element.get_attribute("id") == "saved-filter" and attr("#saved-replies-btn", "aria-expanded") == "true",
          "the Saved replies button opens the list with the focus in its filter")
    shot("09b-saved-replies-picker")
    driver.switch_to.active_element.send_keys(Keys.ARROW_DOWN)
    active = attr("#saved-filter", "aria-activedescendant")
    check(attr(f"#{active}", "data-shortcut") == "ship-today" and attr(f"#{active}", "aria-selected") == "true",
          "Arrow Down moves to the second saved reply (aria-activedescendant, aria-selected)")
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    check(not driver.find_element(By.ID, "saved-picker").is_displayed() and driver.switch_to.active_element.get_attribute("id") == "saved-replies-btn"
          and box.get_attribute("value") == "", "Escape closes the list, the focus goes back to the button, the box is unchanged")
    click("#saved-replies-btn")
    visible("#saved-filter").send_keys("parcel")
    wait_for(lambda: options("#saved-picker") == ["ship-today"], "typing to filter the list to one reply")
    ok("typing in the filter narrows the list (by text too)")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: box.get_attribute("value") == ship_text, "the chosen text in the reply box")
    check(not driver.find_element(By.ID, "saved-picker").is_displayed() and driver.switch_to.active_element.get_attribute("id") == "reply-text",
          "Enter put the saved reply's text in the reply box and closed the list")
    time.sleep(0.5)
    check(sends_of(ship_text) == 0, "inserting a saved reply does not send it")
    box.send_keys(Keys.ENTER)
    wait_for(lambda: sends_of(ship_text) == 1, "the fake network to receive the inserted text")
    element_with_text("#timeline .msg-out", ship_text)
    ok("sent with Enter: the fake network received exactly the saved reply's text, once")
    # "/" at the start of the box suggests saved replies.
    box.send_keys("/")
    wait_for(lambda: options("#slash-suggestions") == ["greet", "ship-today"], "'/' to suggest both saved replies")
    box.send_keys(Keys.ESCAPE)
    check(not driver.find_element(By.ID, "slash-suggestions").is_displayed() and box.get_attribute("value") == "/",
          "'/' suggests the saved replies; Escape closes the suggestions and keeps the text")
    box.send_keys(Keys.BACKSPACE, "/gr")
    wait_for(lambda: options("#slash-suggestions") == ["greet"], "'/gr' to suggest only greet")
    check(attr(f"#{attr('#reply-text', 'aria-activedescendant')}", "data-shortcut") == "greet", "'/gr' suggests /greet, chosen")
    shot("09c-slash-suggestions")
    box.send_keys(Keys.ENTER)
    wait_for(lambda: box.get_attribute("value") == greet_text, "Enter to replace '/gr' with the saved text")
    time.sleep(0.5)
    check(sends_of(greet_text) == 0 and not driver.find_element(By.ID, "slash-suggestions").is_displayed(),
          "Enter on a suggestion inserts its text (not sent)")
    box.send_keys(Keys.ENTER)
    wait_for(lambda: sends_of(greet_text) == 1, "the fake network to receive the greeting")
    element_with_text("#timeline .msg-out", greet_text)
    check(sends_of(greet_text) == 1 and sends_of("/gr") == 0, "sent: the fake network received exactly the greeting, once")
    sign_out()
    api("PUT", "/api/v1/me/status", {"online": False}, alice_token)

    # 7. First paint of the inbox with 1,000 rooms.
    started = time.time()
    seed_rooms(1000)
    print(f"   seeded 1000 rooms in {time.time() - started:.1f} s", flush=True)
    sign_in(*ADMIN)
    driver.get(args.base + "/#/inbox")
    driver.refresh()
    el("#room-list[data-rendered]")
    paint = driver.execute_script("const m = performance.getEntriesByName('inbox-rendered'); return m.length ? m[0].startTime : null;")
    check(paint is not None, "the inbox marked its first render")
    shown = len(driver.find_elements(By.CSS_SELECTOR, "a.room"))
    print(f"   FIRST PAINT: inbox rendered {paint:.0f} ms after navigation start with 1,000+ rooms "
          f"({shown} rendered in the first page) - {'under' if paint < 1000 else 'OVER'} the 1 s target", flush=True)
    check(shown > 0, "the inbox lists the seeded rooms")
    check(attr("#tab-waiting", "aria-selected") == "true",
          "first screen: an admin with no open rooms of their own starts on the queue (Waiting)")
    waiting_count = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "[data-count-for='waiting']").text or None, "the Waiting tab's count")
    check(waiting_count == "999+", f"the Waiting tab counts the 1,000+ waiting rooms as 999+ (shows {waiting_count!r})")
    check(driver.title.startswith("(999+) "), f"the title says how many wait ({driver.title!r})")
    # Keyboard only: j / k walk the list, n writes a note, ? lists the shortcuts.
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    ActionChains(driver).send_keys("j").perform()
    first_id = wait_for(lambda: (driver.execute_script("return location.hash").split("/") + [""])[2] or None, "j to open the first conversation")
    el("#timeline[data-loaded]")
    ActionChains(driver).send_keys("j").perform()
    second_id = wait_for(lambda: (lambda h: h if h and h != first_id else None)(driver.execute_script("return location.hash").split("/")[-1]),
                         "j to open the next conversation")
    order = driver.execute_script("return [...document.querySelectorAll('#room-list a.room')].map((a) => a.dataset.roomId)")
    check(order.index(second_id) == order.index(first_id) + 1, "j opens the conversation below the current one")
    ActionChains(driver).send_keys("k").perform()
    wait_for(lambda: driver.execute_script("return location.hash").split("/")[-1] == first_id, "k to go back up")
    el("#timeline[data-loaded]")
    ActionChains(driver).send_keys("?").perform()
    help_text = visible("dialog[open] .shortcuts").text
    check(all(k in help_text for k in ["j", "k", "r", "n", "e", "?"]), "? lists the shortcuts")
    shot("10a-shortcuts")
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait_for(lambda: not driver.find_elements(By.CSS_SELECTOR, "dialog[open]"), "Escape to close the list")
    ActionChains(driver).send_keys("n").perform()
    wait_for(lambda: attr("#mode-note", "aria-pressed") == "true" and driver.execute_script("return document.activeElement.id") == "reply-text",
             "n to switch to an internal note with the focus in the box")
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    wait_for(lambda: driver.execute_script("return document.activeElement.id") != "reply-text", "Escape to leave the box")
    ActionChains(driver).send_keys("j").perform()
    wait_for(lambda: driver.execute_script("return location.hash").split("/")[-1] == second_id, "j to work again after Escape")
    ok("keyboard only: j / k move between conversations, n writes a note, ? lists the shortcuts")
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    driver.get(args.base + "/#/inbox")
    el("#room-list[data-rendered]")
    driver.execute_script("const s = document.getElementById('list-scroll'); s.scrollTop = s.scrollHeight;")
    wait_for(lambda: len(driver.find_elements(By.CSS_SELECTOR, "a.room")) > shown, "more rooms to load on scroll")
    ok("scrolling the list loads the next page")
    shot("10-inbox-1000-rooms")
    driver.get(args.base + "/#/team")
    el("#agents-table tbody tr")
    # An agent with no division of their own is shown in the default one (as routing counts them), not "None".
    status, body = api("GET", "/api/v1/agents", token=admin_token)
    without = [a for a in body["agents"] if not a["divisions"]]
    _, divisions = api("GET", "/api/v1/divisions", token=admin_token)
    default_name = next(d["name"] for d in divisions["divisions"] if d["is_default"])
    if without:
        cell = el(f"#agents-table tr[data-agent-id='{without[0]['id']}'] .agent-divisions").text
        check(cell == f"{default_name} (default)", f"an agent without divisions shows the default division ({cell!r})")
    else:
        check(False, "the test needs an agent without divisions")
    shot("11-team")

    # First screen with work of their own: the admin goes online, gets rooms, and lands on "Mine".
    api("PUT", "/api/v1/me/status", {"online": True}, admin_token)
    wait_for(lambda: api("GET", "/api/v1/rooms?assignee=me&status=assigned", token=admin_token)[1]["rooms"],
             "a room assigned to the admin")
    driver.get(args.base + "/#/inbox")
    driver.refresh()
    el("#room-list[data-rendered]")
    check(attr("#tab-mine", "aria-selected") == "true" and driver.find_elements(By.CSS_SELECTOR, "#room-list a.room"),
          "first screen: an admin with open rooms of their own starts on them (Mine)")
    api("PUT", "/api/v1/me/status", {"online": False}, admin_token)

    # 8. Keyboard: the skip link is the first stop and shows a focus outline.
    driver.get(args.base + "/#/inbox")
    el("#room-list[data-rendered]")
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = driver.switch_to.active_element
    check("skip-link" in (active.get_attribute("class") or ""), "Tab reaches the skip link first")
    outline = driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    check(outline not in ("none", ""), "the focused element has a visible outline")

    # 8b. Indonesian, the second language: every key translated, switched from the top bar, kept on reload.
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "console")
    key = re.compile(r"^  '([^']+)':", re.M)
    en_keys = set(key.findall(open(os.path.join(root, "strings.js")).read()))
    id_keys = set(key.findall(open(os.path.join(root, "strings.id.js")).read()))
    check(en_keys == id_keys, f"strings.id.js translates every key of strings.js ({len(en_keys)}; differ: {sorted(en_keys ^ id_keys)})")
    Select(el("#language")).select_by_value("id")
    wait_for(lambda: driver.execute_script("return document.documentElement.lang") == "id"
             and driver.find_elements(By.CSS_SELECTOR, "#room-list[data-rendered]"), "the console to reload in Indonesian")
    nav = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "nav a")]
    check("Kotak masuk" in nav and "Laporan" in nav, f"the navigation speaks Indonesian ({nav})")
    check(driver.find_element(By.ID, "tab-mine").text.startswith("Milik saya"), "the tabs speak Indonesian")
    shot("12-indonesian")
    me = api("GET", "/api/v1/me", token=session_token())[1]["user"]
    check(me.get("language") == "id", f"the language is kept on the account (API: {me.get('language')})")
    driver.refresh()
    el("#room-list[data-rendered]")
    check(driver.find_element(By.ID, "sign-out").text == "Keluar", "the choice is kept on reload")
    # The choice is the account's: a browser that never chose follows it. (The pause lets the
    # daemon notice the streams of the pages just left: it checks every 5 s, and allows 5 per user.)
    time.sleep(5.5)
    driver.execute_script("localStorage.removeItem('omnichat.language')")
    driver.refresh()
    wait_for(lambda: driver.execute_script("return document.documentElement.lang") == "id"
             and driver.find_elements(By.CSS_SELECTOR, "#room-list[data-rendered]"), "a browser that never chose to follow the account's language")
    check(driver.find_element(By.ID, "sign-out").text == "Keluar", "signed in elsewhere, the console speaks the account's language")
    Select(el("#language")).select_by_value("en")
    wait_for(lambda: driver.execute_script("return document.documentElement.lang") == "en"
             and driver.find_elements(By.CSS_SELECTOR, "#room-list[data-rendered]"), "the console to reload in English")
    check(driver.find_element(By.ID, "sign-out").text == "Sign out", "back in English")
    check(api("GET", "/api/v1/me", token=session_token())[1]["user"].get("language") == "en", "English is kept on the account too (API)")
    ok("Indonesian: complete, chosen in the top bar, kept on the account and followed wherever the user signs in")
    sign_out()

    # 8c. An agent's own page: their figures and days (the same numbers as the API).
    sign_in("alice@example.com", "alice-pass-123")
    driver.get(args.base + "/#/reports")
    el("#volume-chart[data-loaded]")
    figures = {e.find_element(By.TAG_NAME, "dt").text: e.find_element(By.TAG_NAME, "dd").text
               for e in driver.find_elements(By.CSS_SELECTOR, "#my-figures .figure")}
    alice_token2, _ = login_api("alice@example.com", "alice-pass-123")
    today = time.strftime("%Y-%m-%d")
    week = time.strftime("%Y-%m-%d", time.localtime(time.time() - 6 * 86400))
    mine = api("GET", f"/api/v1/reports/me?from={week}&to={today}&tz={urllib.parse.quote(zone)}", token=alice_token2)[1]
    check(figures.get("Messages sent") == str(mine["agent"]["messages_sent"]) and figures.get("Assigned") == str(mine["agent"]["rooms_assigned"]),
          f"an agent's Reports page shows their own figures ({figures.get('Messages sent')} sent, as the API counts)")
    check(not driver.find_elements(By.CSS_SELECTOR, "#agents-report"), "an agent sees no one else's row")
    shot("07b-my-figures")
    sign_out()

    # 9. No console errors.
    collect_console()
    severe = [e for e in console_entries if e.get("level") == "SEVERE"]
    for e in console_entries:
        if e.get("level") in ("SEVERE", "WARNING"):
            print(f"   console {e['level']}: {e['message']}", flush=True)
    check(not severe, f"no SEVERE browser console entries ({len(console_entries)} entries in all)")
    missing = [e["message"] for e in console_entries if "missing string" in e.get("message", "")]
    check(not missing, f"every string shown came from strings.js (no 'missing string' warnings{': ' + str(missing) if missing else ''})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--network", required=True)
    parser.add_argument("--screenshots", default="ui-screenshots")
    args = parser.parse_args()
    code = 0
    try:
        main()
        print(f"PASS: {checks} checks", flush=True)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        code = 1
    except Exception as e:  # a Selenium or network error is a failure too
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        code = 1
    finally:
        if driver is not None:
            if code:
                try:
                    driver.save_screenshot(os.path.join(args.screenshots, "failure.png"))
                    collect_console()
                    for e in console_entries:
                        print(f"   console {e.get('level')}: {e.get('message')}", flush=True)
                except Exception:
                    pass
            driver.quit()
    sys.exit(code)
