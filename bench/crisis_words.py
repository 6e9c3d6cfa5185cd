"""Regenerate `not_typos` in data/crisis_phrases.toml: real words one edit from a risk word.

Usage: python bench/crisis_words.py [--words /usr/share/dict/words] [--check]

The detector corrects one-letter typos of its risk words ("myslef" -> "myself"). A real word
that happens to be one edit away ("kiln", "pulls", "tires") must never be "corrected", so the
rule file lists them. This reads a plain word list (Debian's `wamerican` package installs
one at /usr/share/dict/words; proper nouns, with capitals, are skipped) and rewrites that
list in place. `--check` only says whether the file is up to date (exit 1 if not).
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.crisis.detection import _edits1, _swaps_and_doubles  # noqa: E402

RULES = ROOT / "data" / "crisis_phrases.toml"
# Chat words a plain dictionary lacks but people type every day.
CHAT_WORDS = {"lmao", "lol", "omg", "tho", "gonna", "wanna", "kinda", "sorta", "yall", "ok", "okay", "meds",
              "mods", "vibes", "noob", "grind", "lit", "rn", "tbh", "ngl", "fr", "idk", "irl", "dm", "dms",
              "alot", "gotta", "lemme", "gimme", "dunno", "nah", "yeah", "yep", "nope", "cuz", "bc"}

# Common Spanish words (the detector reads Spanish too): never an English typo ("hace" is
# not "have").
SPANISH_WORDS = set("""
hace haces hago hacer dice dije dijo tiene tengo tienes vive vivo vivir viva vida muere muero morir murio
mata mato matar pena pase paso pasa pasar tome tomo toma tomar come como comer hoy ayer manana noche dia
dias semana mes ano anos tanto tanta todo toda todos todas nada nadie alguien algo siempre nunca aqui alla
donde cuando porque pero mas menos muy mucho mucha poco poca bien mal mejor peor solo sola triste feliz
cansado cansada dolor miedo casa madre padre mama papa hijo hija hermano hermana amigo amiga novio novia
perro gato cosa cosas vez veces otra otro gente carta cartas adios gracias perdon favor ayuda necesito
quiero puedo sabe saber sea ser era fue fui eres soy estoy esta estas estan estaba estar hay habia tenia
vamos voy vas va ir ido iba ver veo vi dar doy dio dejar deje dejo ella ellos ellas usted ustedes ya aun
luego despues antes ahora pronto tarde mismo cada sin con por para sobre hasta desde que quien este ese
esto eso mio tuyo suyo mi tu su mis tus sus nos les le me te se bueno buena malo mala vale listo lista
llorar dormir despertar sangre brazo brazos manos mano cabeza pecho corazon pastillas pastilla cuerda
puente techo azotea viernes sabado domingo lunes martes miercoles jueves familia trabajo escuela dinero
""".split())


def not_typos(risk: list[str], words: set[str]) -> list[str]:
    """Return the real words one edit away from a risk word of four letters or more."""
    lexicon = {w for w in risk if len(w) >= 4}
    found = set()
    for word in lexicon:
        found |= {v for v in _edits1(word) if v in words and v not in lexicon}
    for word in (w for w in risk if len(w) == 3):  # only swapped or doubled letters
        found |= {v for v in _swaps_and_doubles(word) if v in words}
    return sorted(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", default="/usr/share/dict/words")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = Path(args.words)
    if not path.exists():
        print(f"{path}: no word list (apt-get install wamerican)", file=sys.stderr)
        return 2
    words = {w for w in path.read_text(encoding="utf-8").split() if re.fullmatch(r"[a-z]+", w)}
    words |= CHAT_WORDS | SPANISH_WORDS
    text = RULES.read_text(encoding="utf-8")
    risk = tomllib.loads(text)["words"]["risk"]
    found = not_typos(risk, words)
    lines, line = [], " "
    for w in found:
        item = f' "{w}",'
        if len(line) + len(item) > 98:
            lines.append(line)
            line = " "
        line += item
    lines.append(line)
    block = "not_typos = [\n" + "\n".join(lines) + "\n]"
    new = re.sub(r"not_typos = \[[^\]]*\]", lambda _: block, text, count=1)
    if args.check:
        print("up to date" if new == text else "out of date: run bench/crisis_words.py")
        return 0 if new == text else 1
    RULES.write_text(new, encoding="utf-8")
    print(f"{len(found)} words one edit from the {len(risk)} risk words")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
