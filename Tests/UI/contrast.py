#!/usr/bin/env python3
"""WCAG 2 contrast of the console's colour pairs, read from console/style.css.

Colours are taken from the stylesheet itself (custom properties resolved), so a
change to style.css is checked as it is. Two sources of pairs:

1. every rule that sets both `color` and `background`/`background-color`
   (text on its own background: 4.5:1);
2. the pairs listed in PAIRS below: text drawn on a background set elsewhere
   (a muted line inside a bubble, a link on a card...) at 4.5:1, and UI parts
   (switch track, input border, focus ring) at 3:1 (WCAG 1.4.11).

Prints every pair with its ratio; exits 1 when one is under its minimum.
Usage: python3 Tests/UI/contrast.py [path/to/style.css]
"""
import os
import re
import sys

CSS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "console", "style.css")
TEXT, UI = 4.5, 3.0

# (what, foreground, background, minimum). A colour is "selector|property" (the
# value in that rule of style.css), "--name" (a custom property) or a literal.
PAIRS = [
    ("body text on the page", "--text", "--bg", TEXT),
    ("body text on cards", "--text", "--panel", TEXT),
    ("muted text on the page", "--muted", "--bg", TEXT),
    ("muted text on cards", "--muted", "--panel", TEXT),
    ("links on cards", "--primary", "--panel", TEXT),
    ("links on the page", "--primary", "--bg", TEXT),
    ("errors on cards", "--danger", "--panel", TEXT),
    ("errors on the page", "--danger", "--bg", TEXT),
    ("Live badge", "--ok", "--panel", TEXT),
    ("current nav link", ".navlink[aria-current=\"page\"]|color", ".navlink[aria-current=\"page\"]|background", TEXT),
    ("selected tab", ".tab[aria-selected=\"true\"]|color", ".tab[aria-selected=\"true\"]|background", TEXT),
    ("unselected tab", ".tab|color", "--panel", TEXT),
    ("room preview in the selected room", ".room-preview|color", ".room[aria-current=\"true\"]|background", TEXT),
    ("room time in the selected room", ".room-time|color", ".room[aria-current=\"true\"]|background", TEXT),
    ("waiting time", ".room-wait|color", "--panel", TEXT),
    ("waiting time in the selected room", ".room-wait|color", ".room[aria-current=\"true\"]|background", TEXT),
    ("room hover", "--text", ".room:hover|background", TEXT),
    ("message meta in a customer bubble", ".msg-meta|color", "--panel", TEXT),
    ("message meta in a reply bubble", ".msg-meta|color", ".msg-out .bubble|background", TEXT),
    ("message meta in a bot bubble", ".msg-meta|color", ".msg-bot .bubble|background", TEXT),
    ("Delivered in a reply bubble", "--ok", ".msg-out .bubble|background", TEXT),
    ("Failed in a reply bubble", "--danger", ".msg-out .bubble|background", TEXT),
    ("Failed in a bot bubble", "--danger", ".msg-bot .bubble|background", TEXT),
    ("link in a reply bubble", "--primary", ".msg-out .bubble|background", TEXT),
    ("note text", ".msg-note .bubble|color", ".msg-note .bubble|background", TEXT),
    ("quick reply chip", ".qr|color", ".qr|background", TEXT),
    ("quick reply label in a reply bubble", "--muted", ".msg-out .bubble|background", TEXT),
    ("table header", "th|color", "th|background", TEXT),
    ("tag", "--text", ".tag|background", TEXT),
    ("invitation box", "--text", ".invite-box|background", TEXT),
    ("chart labels", ".chart text|fill", "--panel", TEXT),
    ("composer details summary", ".extras summary|color", "--panel", TEXT),
    ("saved reply shortcut", ".saved-shortcut|color", "--panel", TEXT),
    ("saved reply shortcut, chosen option", ".saved-shortcut|color", ".saved-option[aria-selected=\"true\"]|background", TEXT),
    ("saved reply text, chosen option", ".saved-text|color", ".saved-option[aria-selected=\"true\"]|background", TEXT),
    ("saved reply shortcut, option hover", ".saved-shortcut|color", ".saved-option:hover|background", TEXT),
    ("muted text in the saved replies picker", "--muted", ".saved-popup|background", TEXT),
    ("the '/' before a shortcut field", ".slash-input|color", "--panel", TEXT),
    ("switch state word (off)", ".switch-state|color", "--bg", TEXT),
    ("switch state word (on)", ".switch[aria-checked=\"true\"] .switch-state|color", "--bg", TEXT),
    ("primary button", ".btn-primary|color", ".btn-primary|background", TEXT),
    ("primary button hover", ".btn-primary|color", ".btn-primary:hover|background", TEXT),
    ("danger button", ".btn-danger|color", "--panel", TEXT),
    ("unread badge", ".badge|color", ".badge|background", TEXT),
    ("toast", ".toast|color", ".toast|background", TEXT),
    ("error toast", ".toast|color", ".toast-error|background", TEXT),
    ("note-mode textarea text", "--text", ".composer-form.note-mode textarea|background", TEXT),
    # UI components and focus (3:1 against what is next to them)
    ("switch track (off) on the page", "--switch-off", "--bg", UI),
    ("switch track (off) on cards", "--switch-off", "--panel", UI),
    ("switch knob on the off track", ".switch-thumb|background", "--switch-off", UI),
    ("switch track (on) on the page", "--primary", "--bg", UI),
    ("switch knob on the on track", ".switch-thumb|background", "--primary", UI),
    ("input border on cards", "input, select, textarea|border-color", "--panel", UI),
    ("input border on the page", "input, select, textarea|border-color", "--bg", UI),
    ("focus ring on cards", "--focus", "--panel", UI),
    ("focus ring on the page", "--focus", "--bg", UI),
    # The ring is drawn 2px outside the element (outline-offset), so it sits on the
    # surface around the element: the page, a card, or a selected row or link.
    ("focus ring on a selected row or link", "--focus", "--primary-soft", UI),
    ("selected chip border", ".chip[aria-pressed=\"true\"]|border-color", "--panel", UI),
    ("chosen saved reply border", ".saved-option[aria-selected=\"true\"]|border-color", "--panel", UI),
    ("saved replies picker border", ".saved-popup|border-color", "--panel", UI),
    ("invalid field border", "[aria-invalid=\"true\"]|border-color", "--panel", UI),
]

NAMED = {"white": "#ffffff", "black": "#000000"}


def parse(css):
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules = []
    # Flatten @media blocks: their inner rules are checked too.
    for m in re.finditer(r"([^{}]+)\{([^{}]*)\}", css):
        selector = " ".join(m.group(1).split())
        if selector.startswith("@"):
            selector = selector.split(" ", 1)[1] if " " in selector else selector
        decls = {}
        for d in m.group(2).split(";"):
            if ":" in d:
                k, v = d.split(":", 1)
                decls[k.strip()] = v.strip()
        rules.append((selector, decls))
    return rules


def main():
    with open(CSS, encoding="utf-8") as f:
        rules = parse(f.read())
    variables = {}
    for sel, decls in rules:
        if sel == ":root":
            variables.update({k: v for k, v in decls.items() if k.startswith("--")})
    by_selector = {}
    for sel, decls in rules:
        by_selector.setdefault(sel, {}).update(decls)

    def resolve(value, seen=0):
        value = value.strip().replace("!important", "").strip()
        m = re.fullmatch(r"var\((--[\w-]+)\)", value)
        if m:
            return resolve(variables[m.group(1)], seen + 1)
        if value.startswith("--"):
            return resolve(variables[value], seen + 1)
        value = NAMED.get(value, value)
        m = re.search(r"#[0-9a-fA-F]{3,6}\b", value)
        if not m:
            return None
        h = m.group(0)[1:]
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return "#" + h.lower()

    def colour(spec):
        if "|" in spec:
            sel, prop = spec.rsplit("|", 1)
            decls = by_selector.get(sel)
            if decls is None:
                raise KeyError(f"no rule {sel!r} in style.css")
            value = decls.get(prop)
            if value is None and prop == "background":
                value = decls.get("background-color")
            if value is None and prop == "border-color":
                border = decls.get("border", "")
                value = border.split()[-1] if border else None
            if value is None:
                raise KeyError(f"{sel!r} has no {prop}")
            return resolve(value)
        return resolve(spec)

    def luminance(hex_colour):
        def channel(c):
            c = c / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
        r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    def ratio(a, b):
        hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
        return (hi + 0.05) / (lo + 0.05)

    checks = []
    for sel, decls in rules:
        if sel == ":root" or "color" not in decls:
            continue
        bg = decls.get("background") or decls.get("background-color")
        if not bg or bg in ("transparent", "none", "inherit"):
            continue
        fg_c, bg_c = resolve(decls["color"]), resolve(bg)
        if fg_c and bg_c:
            checks.append((f"{sel} (color on its background)", fg_c, bg_c, TEXT))
    errors = []
    for what, fg, bg, minimum in PAIRS:
        try:
            fg_c, bg_c = colour(fg), colour(bg)
        except KeyError as e:
            errors.append(f"{what}: {e}")
            continue
        if not fg_c or not bg_c:
            errors.append(f"{what}: cannot read a colour from {fg!r} / {bg!r}")
            continue
        checks.append((what, fg_c, bg_c, minimum))

    failures = 0
    for what, fg_c, bg_c, minimum in checks:
        r = ratio(fg_c, bg_c)
        bad = r < minimum
        failures += bad
        print(f"{'FAIL' if bad else 'ok  '} {r:5.2f}:1 (min {minimum}) {fg_c} on {bg_c}  {what}")
    for e in errors:
        print(f"FAIL {e}")
    print(f"{len(checks)} colour pairs, {failures} under the minimum, {len(errors)} unreadable")
    return 1 if failures or errors else 0


if __name__ == "__main__":
    sys.exit(main())
