"""Generated fictional worlds: invented countries, cities, rivers, companies and people with attributes and
relations, rendered as many pages (one per entity, lists, news items) that all agree, because every page is
written from one fact table. The facts are kept as ground truth for search tasks.

A world is a pure function of its seed: the same seed gives the same names, facts and pages on every machine.

`python -m sandboxes.search.world --seed 7 --tasks tasks/search.yaml` writes the search tasks for a world.
"""

from __future__ import annotations

import argparse
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sandboxes.search.index import Page

ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kr", "st", "th", "qu"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
CODAS = ["", "", "n", "r", "l", "s", "th", "nd", "m", "x"]
PROFESSIONS = ["engineer", "cartographer", "chemist", "architect", "economist", "botanist", "composer", "pilot"]
INDUSTRIES = ["shipbuilding", "textiles", "optics", "glassware", "software", "mining", "pharmaceuticals"]
COUNTS = {"country": 3, "city": 9, "river": 3, "company": 7, "person": 16}


@dataclass
class Entity:
    kind: str
    name: str
    attrs: dict = field(default_factory=dict)

    @property
    def page_id(self) -> str:
        return f"{self.kind}/{re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')}"


@dataclass
class World:
    seed: int
    entities: dict[str, Entity]
    facts: list[tuple[str, str, str]]  # (subject page id, relation, object value or page id)

    def get(self, page_id: str) -> Entity:
        return self.entities[page_id]

    def of_kind(self, kind: str) -> list[Entity]:
        return [e for e in self.entities.values() if e.kind == kind]

    def value(self, subject: str, relation: str) -> str:
        return next(o for s, r, o in self.facts if s == subject and r == relation)

    def subjects(self, relation: str, obj: str) -> list[str]:
        return [s for s, r, o in self.facts if r == relation and o == obj]

    @property
    def host(self) -> str:
        return f"world-{self.seed}.example"


def _name(rng: random.Random, used: set[str], syllables: int) -> str:
    while True:
        name = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS) for _ in range(syllables))
        name = name.capitalize()
        if name not in used and len(name) >= 4:
            used.add(name)
            return name


def generate(seed: int) -> World:
    rng = random.Random(seed)
    used: set[str] = set()
    entities: dict[str, Entity] = {}
    facts: list[tuple[str, str, str]] = []

    def add(kind: str, name: str, **attrs) -> Entity:
        entity = Entity(kind, name, attrs)
        entities[entity.page_id] = entity
        return entity

    countries = [add("country", _name(rng, used, 2)) for _ in range(COUNTS["country"])]
    cities = []
    for i in range(COUNTS["city"]):
        # Every country gets cities; the first city of each country is its capital.
        country = countries[i % len(countries)]
        city = add("city", _name(rng, used, 2))
        cities.append(city)
        facts += [(city.page_id, "country", country.page_id),
                  (city.page_id, "population", str(rng.randrange(20, 2000) * 1000)),
                  (city.page_id, "founded", str(rng.randrange(900, 1800)))]
        if i < len(countries):
            facts.append((country.page_id, "capital", city.page_id))
    for river_entity in [add("river", _name(rng, used, 2)) for _ in range(COUNTS["river"])]:
        facts.append((river_entity.page_id, "length_km", str(rng.randrange(80, 2500))))
        for city in sorted(rng.sample(cities, 2), key=lambda c: c.page_id):
            facts.append((river_entity.page_id, "flows_through", city.page_id))
    people = [add("person", f"{_name(rng, used, 1)} {_name(rng, used, 2)}") for _ in range(COUNTS["person"])]
    for person in people:
        facts += [(person.page_id, "born_in", rng.choice(cities).page_id),
                  (person.page_id, "birth_year", str(rng.randrange(1890, 2000))),
                  (person.page_id, "profession", rng.choice(PROFESSIONS))]
    founders = rng.sample(people, COUNTS["company"])
    for founder in founders:
        company = add("company", f"{_name(rng, used, 2)} {rng.choice(['Works', 'Group', 'Industries', 'Labs'])}")
        year = int(next(o for s, r, o in facts if s == founder.page_id and r == "birth_year")) + rng.randrange(25, 45)
        facts += [(company.page_id, "founded_by", founder.page_id),
                  (company.page_id, "headquarters", rng.choice(cities).page_id),
                  (company.page_id, "industry", rng.choice(INDUSTRIES)),
                  (company.page_id, "founded", str(year))]
    companies = World(seed, entities, facts).of_kind("company")
    for person in people:
        if person not in founders:
            facts.append((person.page_id, "works_for", rng.choice(companies).page_id))
    return World(seed, entities, facts)


def _link(world: World, page_id: str) -> str:
    return f"{world.get(page_id).name} [{page_id}]"


def _entity_text(world: World, e: Entity) -> str:
    v = lambda relation: world.value(e.page_id, relation)  # noqa: E731
    link = lambda page_id: _link(world, page_id)  # noqa: E731
    if e.kind == "country":
        cities = world.subjects("country", e.page_id)
        return (f"{e.name} is a country. Its capital is {link(v('capital'))}.\n\nCities of {e.name}: "
                + ", ".join(link(c) for c in cities) + ".")
    if e.kind == "city":
        rivers = world.subjects("flows_through", e.page_id)
        headquartered = world.subjects("headquarters", e.page_id)
        text = (f"{e.name} is a city in {link(v('country'))}, founded in {v('founded')}, with a population of "
                f"{int(v('population')):,}.")
        if rivers:
            text += " Rivers: " + ", ".join(link(r) for r in rivers) + "."
        if headquartered:
            text += " Companies headquartered here: " + ", ".join(link(c) for c in headquartered) + "."
        return text
    if e.kind == "river":
        through = [o for s, r, o in world.facts if s == e.page_id and r == "flows_through"]
        return (f"The {e.name} is a river {v('length_km')} km long. It flows through "
                + " and ".join(link(c) for c in through) + ".")
    if e.kind == "company":
        staff = world.subjects("works_for", e.page_id)
        text = (f"{e.name} is a {v('industry')} company founded in {v('founded')} by {link(v('founded_by'))}. "
                f"Its headquarters are in {link(v('headquarters'))}.")
        if staff:
            text += " Notable employees: " + ", ".join(link(p) for p in staff) + "."
        return text
    born = v("born_in")
    text = (f"{e.name} (born {v('birth_year')} in {link(born)}, {link(world.value(born, 'country'))}) is a "
            f"{v('profession')}.")
    founded = world.subjects("founded_by", e.page_id)
    if founded:
        text += f" {e.name.split()[0]} founded {link(founded[0])}."
    else:
        text += f" {e.name.split()[0]} works for {link(v('works_for'))}."
    return text


def pages(world: World) -> list[Page]:
    """Entity pages, one list page per kind, and a news item per company that restates its facts."""
    out = []
    for e in world.entities.values():
        links = sorted({o for s, r, o in world.facts if s == e.page_id and o in world.entities}
                       | {s for s, r, o in world.facts if o == e.page_id})
        out.append(Page(e.page_id, e.name, f"https://{world.host}/wiki/{e.page_id}", _entity_text(world, e),
                        f"world-{world.seed}", links))
    for kind in sorted({e.kind for e in world.entities.values()}):
        members = sorted(world.of_kind(kind), key=lambda e: e.name)
        out.append(Page(f"list/{kind}", f"List of {kind} pages", f"https://{world.host}/wiki/list/{kind}",
                        f"All {len(members)} {kind} pages:\n" + "\n".join(f"- {_link(world, e.page_id)}"
                                                                          for e in members),
                        f"world-{world.seed}", [e.page_id for e in members]))
    for company in world.of_kind("company"):
        founder = world.get(world.value(company.page_id, "founded_by"))
        city = world.get(world.value(company.page_id, "headquarters"))
        out.append(Page(f"news/{company.page_id.split('/')[1]}-anniversary", f"{company.name} marks its founding",
                        f"https://{world.host}/news/{company.page_id.split('/')[1]}-anniversary",
                        f"{company.name}, the {world.value(company.page_id, 'industry')} firm based in {city.name}, "
                        f"this week remembered its founding in {world.value(company.page_id, 'founded')}. "
                        f"Founder {founder.name} started the business as a "
                        f"{world.value(founder.page_id, 'profession')} born in "
                        f"{world.get(world.value(founder.page_id, 'born_in')).name}.",
                        f"world-{world.seed}", [company.page_id, founder.page_id, city.page_id]))
    return out


def questions(world: World) -> list[dict]:
    """Questions whose answers are facts of the world: one-hop and two-hop (following a relation to another page)."""
    out = []
    for company in sorted(world.of_kind("company"), key=lambda e: e.page_id):
        founder = world.value(company.page_id, "founded_by")
        city = world.value(company.page_id, "headquarters")
        out.append({"question": f"In which city does {company.name} have its headquarters?",
                    "answer": world.get(city).name, "pages": [company.page_id],
                    "query": f"{company.name} headquarters"})
        born = world.value(founder, "born_in")
        out.append({"question": f"In which country was the founder of {company.name} born?",
                    "answer": world.get(world.value(born, "country")).name,
                    "pages": [company.page_id, founder, born], "query": f"{company.name} founded"})
    for river in sorted(world.of_kind("river"), key=lambda e: e.page_id):
        out.append({"question": f"How long is the {river.name} river, in km?",
                    "answer": world.value(river.page_id, "length_km"), "pages": [river.page_id],
                    "query": f"{river.name} river"})
    return out


def search_tasks(world: World, server: str) -> list[dict]:
    tasks = []
    for i, q in enumerate(questions(world)):
        actions = [{"tool": "search", "arguments": {"query": q["query"]}}]
        actions += [{"tool": "open_page", "arguments": {"page_id": page}} for page in q["pages"]]
        tasks.append({"id": f"world{world.seed}-q{i:02d}", "instruction": q["question"],
                      "options": {"server": server, "answer": q["answer"]}, "actions": actions})
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", default="search-world")
    parser.add_argument("--tasks", type=Path, required=True, help="Write the world's search tasks here (YAML).")
    args = parser.parse_args()
    header = (f"# Generated by `python -m sandboxes.search.world --seed {args.seed} --tasks {args.tasks}`: questions "
              f"about fictional world {args.seed},\n# answered by its ground-truth facts; actions search, then open "
              f"the pages that hold the answer. Tasks for other servers are kept.\n")
    # Hand-written tasks for other servers in the same file are kept.
    kept = []
    if args.tasks.exists():
        kept = [t for t in (yaml.safe_load(args.tasks.read_text(encoding="utf-8")) or {}).get("tasks") or []
                if (t.get("options") or {}).get("server") != args.server]
    tasks = kept + search_tasks(generate(args.seed), args.server)
    args.tasks.write_text(header + yaml.safe_dump({"tasks": tasks}, sort_keys=False, allow_unicode=True, width=120),
                          encoding="utf-8")


if __name__ == "__main__":
    main()
