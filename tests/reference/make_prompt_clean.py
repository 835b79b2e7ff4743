"""Fixture for tests/test_prompt_clean.c: a corpus of tricky strings plus every html5 key once,
as {"cases": [[input, html.unescape(input), prompt_clean(input)], ...]} where prompt_clean is
what diffusers' Wan pipeline runs without ftfy: html.unescape twice, strip, regex `\\s+` -> " ",
strip. Run from the repo root:  python tests/reference/make_prompt_clean.py
Needs only `regex` (diffusers' whitespace_clean uses it); writes tests/fixtures/prompt_clean.json.
"""
import html
import html.entities
import json
import os

import regex

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "prompt_clean.json")

TRICKY = [
    "plain text", "&amp;", "&amp", "&ampx", "&amp;x", "&AMP", "&Amp;", "&notit;", "&notin;", "&notin", "&noti",
    "&not", "&notx", "&nbsp;&nbsp", "&lt;b&gt;bold&lt;/b&gt;", "&amp;lt;", "&amp;amp;lt;", "&&amp;&", "& amp;",
    "&;", "&", "&&", "&#", "&#;", "&#x;", "&#xg", "&#65", "&#65;", "&#x41;", "&#X41", "&#0;", "&#13;", "&#128;",
    "&#129;", "&#x9f;", "&#1;", "&#11;", "&#127;", "&#xD800;", "&#xDFFF;", "&#x10FFFF;", "&#x110000;",
    "&#99999999999999999999;", "&#xFFFE;", "&#x1FFFF;", "&#xFDD0;", "&#00000065;", "&#65abc", "&#x41g",
    "&NotEqualTilde;", "&NotEqualTilde", "&nGt;", "&fjlig;", "&ThickSpace;", "&CounterClockwiseContourIntegral;",
    "&CounterClockwiseContourIntegralX;", "&CounterClockwiseContourIntegralXY;", "&aacute&eacute;", "&AElig&aeligx",
    "&copy2024", "&copy;2024", "&COPYright", "&reg&trade", "&tradex", "&frac12&frac34;", "&sup2sup3",
    "&lt\t;", "&lt\n", "&lt<", "&ltéx", "&éacute;", "&eacutě;", "&ltltlt;", "&gtrdot;", "&gtr;", "&gtrx;",
    "&xx;&lt", "&amp;#65;", "&amp;#x41;", "&#38;amp;", "&#38;#38;amp;", "a&b&c", "&%;", "&\u00e9;", "&\U0001f600;",
    "  Ｈello &amp; wörld  ", "\u3000full\u3000width\u3000", "tabs\tand\nnewlines\r\nhere", "\x1c\x1dsep\x1e\x1f",
    "a\u00a0b\u2003c\u200bd\u2028e\u2029f\u0085g", "&nbsp;lead and trail&nbsp;", "&#x2003;em&#8195;space&emsp;",
    "&NewLine;line&Tab;tab", "&lt;&#x3C;&#60;&LT&lt", "&quot;quoted&QUOT and &apos;apos&apos",
    "&unknownentitywithaverylongname;", "&" + "a" * 40 + ";", "&amp" + "b" * 40, "&\u00e9\u00e9\u00e9",
]


def prompt_clean(text):
    text = html.unescape(html.unescape(text)).strip()
    return regex.sub(r"\s+", " ", text).strip()


def main():
    corpus = TRICKY + ["x&" + key + "y " for key in sorted(html.entities.html5)]
    rows = [json.dumps([s, html.unescape(s), prompt_clean(s)], ensure_ascii=False) for s in corpus]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write('{"cases": [\n' + ",\n".join(rows) + "\n]}\n")


if __name__ == "__main__":
    main()
