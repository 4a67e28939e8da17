"""Mail to people, written once in Jinja2 templates (`templates/mail/<name>.txt`) in both languages: the
person's language first, the other below it, the same words as the pages (`words`). A template sets
`subject`; the HTML part is the same text laid out (`mail/layout.html`, links made clickable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from services.common import words
from services.common.mail import Mail

HERE = Path(__file__).parent
RULE = "\n\n--------------------------------------------------------------------\n\n"


def environment(service_dir: Path) -> jinja2.Environment:
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(service_dir / "templates"), jinja2.FileSystemLoader(HERE / "templates")]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.update(when=words.when, day=words.day, days=words.days, word=words.word, W=words)
    env.filters["holder_name"] = words.holder_name
    env.filters["first_upper"] = words.first_upper
    return env


def compose(
    env: jinja2.Environment, name: str, *, to: str, lang: str, headers: dict[str, str] | None = None, **context: Any
) -> Mail:
    """The mail `name` to `to`: subject and body in `lang`, then in the other language."""
    first, second = words.language(lang), words.other(words.language(lang))
    template = env.get_template(f"mail/{name}.txt")
    parts = [template.make_module({**context, "lang": x}) for x in (first, second)]
    subjects = [str(getattr(p, "subject", "")).strip() for p in parts]
    bodies = [str(p).strip() for p in parts]
    html = env.get_template("mail/layout.html").render(
        lang=first,
        sections=[[para.strip() for para in body.split("\n\n") if para.strip()] for body in bodies],
    )
    return Mail(to=to, subject=" / ".join(subjects), text=RULE.join(bodies) + "\n", html=html, headers=headers or {})
