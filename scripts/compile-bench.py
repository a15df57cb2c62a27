#!/usr/bin/env python3
"""Compile-time benchmark: an app of N models in this ORM and the same
schema in plain diesel, built side by side; prints CPU seconds and ratios.

    python3 scripts/compile-bench.py                 # N = 10, 50, 200; 1 run
    python3 scripts/compile-bench.py -n 10 -n 50     # chosen sizes
    python3 scripts/compile-bench.py --repeat 3      # median of 3 runs
    python3 scripts/compile-bench.py --orm-features postgres,mysql
                                                     # the ORM app with every backend

The schema (issue 17): N models with 6 plain columns each (text, integer,
boolean, double, timestamp, nullable text) and an auto-increment key; per
50 models, 10 have a foreign key and 5 a many-to-many (scaled with N:
N/5 and N/10), all to the first model. Each model comes with a function
that uses it as an app would: insert, get by key, filter, update, delete,
and its relation (load the parent; add and list the many-to-many targets).

- The ORM app: `#[derive(Model)]` (the many-to-many's through model is
  generated), on `orm_core::AnyConnection`, orm-core's default features
  (SQLite, bundled), plus `--orm-features` (PostgreSQL and MySQL compiled
  in too, as an app that picks its backend from a URL has them).
- The diesel app: `table!`, `Queryable`, `Selectable`, `Identifiable`,
  `Insertable`, `AsChangeset`, `Associations`, with an explicit join table
  per many-to-many, `joinable!` and `allow_tables_to_appear_in_same_query!`
  for the related pairs only (the app's joins need no more), on
  `SqliteConnection`, diesel with its `sqlite` feature (bundled SQLite).

Both are library crates, one module file per model, generated under
`target/compile-bench/` (gitignored), each its own cargo workspace using
the repository's crates by path and the repository's Cargo.lock, and
sharing one target directory (`target/compile-bench/target`), so the
dependencies are built once, before anything is measured. Debug profile,
incremental compilation on (cargo's default for it). Measured, for each
app, as CPU seconds (user + sys of cargo and every compiler it runs):

- `check`: `cargo check` after `cargo clean -p <app>`;
- `clean build`: `cargo build` after `cargo clean -p <app>`;
- `incremental`: `cargo build` after renaming one field (`title` of the
  last model, a plain one, and its uses in that model's file).

With `--repeat K` each figure is the median of K runs (default 1). The
machine's load shifts CPU time less than wall time, but not to zero:
run it on a quiet machine.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROOT = REPO / "target" / "compile-bench"
TARGET = ROOT / "target"

# ---------------------------------------------------------------- schema


def schema(n):
    """The models: (index, kind) with kind "plain", "fk" or "m2m"."""
    fk = max(1, n // 5)
    m2m = max(1, n // 10)
    kinds = []
    for i in range(n):
        if 1 <= i <= fk:
            kinds.append((i, "fk"))
        elif fk < i <= fk + m2m:
            kinds.append((i, "m2m"))
        else:
            kinds.append((i, "plain"))
    return kinds


def title(renamed):
    return "title_renamed" if renamed else "title"


# ---------------------------------------------------------------- ORM app

# orm-core features of the ORM app (`--orm-features`), as TOML strings.
ORM_FEATURES = ""

ORM_CARGO = """[package]
name = "orm_app"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
orm-core = {{ path = "{repo}/orm-core", features = [{features}] }}
diesel = {{ version = "2.3", default-features = false, features = ["chrono"] }}
chrono = {{ version = "0.4", default-features = false, features = ["clock", "std"] }}
"""


def orm_model(i, kind, renamed=False):
    t = title(renamed)
    relation = ""
    use = ""
    if kind == "fk":
        relation = "    pub parent: ForeignKey<M0>,\n"
        use = """    let mut parent = M0 {
        title: "parent".into(),
        created: when,
        ..Default::default()
    };
    parent.save(conn)?;
    row.set_parent(parent);
"""
    elif kind == "m2m":
        relation = "    pub tags: ManyToMany<M0>,\n"
    after = ""
    if kind == "fk":
        after = """    let parent = loaded.parent(conn)?;
    total += parent.count as i64;
"""
    elif kind == "m2m":
        after = """    let mut tag = M0 {
        title: "tag".into(),
        created: when,
        ..Default::default()
    };
    tag.save(conn)?;
    row.tags().add(conn, &[tag])?;
    total += row.tags().all(conn)?.len() as i64;
"""
    imports = "" if i == 0 else "use super::m0::M0;\n"
    return f"""use chrono::NaiveDateTime;
use orm_core::prelude::*;
use orm_core::AnyConnection;
{imports}
#[derive(Model, Debug, Clone, Default)]
#[orm(table = "m{i}")]
pub struct M{i} {{
    #[orm(primary_key)]
    pub id: Option<i64>,
    pub {t}: String,
    pub count: i32,
    pub active: bool,
    pub score: f64,
    pub created: NaiveDateTime,
    pub note: Option<String>,
{relation}}}

/// Uses the model as an app would; returns a number so nothing is unused.
pub fn exercise(conn: &mut AnyConnection, when: NaiveDateTime) -> orm_core::Result<i64> {{
    let mut row = M{i} {{
        {t}: "a".into(),
        count: 1,
        created: when,
        ..Default::default()
    }};
{use}    row.save(conn)?;
    let id = row.id.unwrap_or_default();
    let loaded = M{i}::get(conn, id)?;
    let found = M{i}::objects().filter(m{i}::{t}.eq("a")).load(conn)?;
    let mut total = found.len() as i64 + loaded.count as i64;
{after}    row.count += 1;
    row.active = !row.active;
    row.save(conn)?;
    total += row.delete(conn)? as i64;
    Ok(total)
}}
"""


# ---------------------------------------------------------------- diesel app

DIESEL_CARGO = """[package]
name = "diesel_app"
version = "0.1.0"
edition = "2021"
publish = false

[workspace]

[dependencies]
diesel = {{ version = "2.3", default-features = false, features = ["sqlite", "chrono", "returning_clauses_for_sqlite_3_35", "32-column-tables"] }}
libsqlite3-sys = {{ version = ">=0.17.2, <0.36", default-features = false, features = ["bundled"] }}
chrono = {{ version = "0.4", default-features = false, features = ["clock", "std"] }}
"""


def diesel_model(i, kind, renamed=False):
    t = title(renamed)
    fk_col = "        parent_id -> BigInt,\n" if kind == "fk" else ""
    fk_field = "    pub parent_id: i64,\n" if kind == "fk" else ""
    assoc = ""
    derives = "Queryable, Selectable, Identifiable, AsChangeset, Debug, Clone, PartialEq"
    tables = ""
    imports = "" if i == 0 else "use super::m0::{m0, M0};\n"
    if kind == "fk":
        derives += ", Associations"
        assoc = "#[diesel(belongs_to(M0, foreign_key = parent_id))]\n"
        tables = f"""
diesel::joinable!(m{i} -> m0 (parent_id));
diesel::allow_tables_to_appear_in_same_query!(m{i}, m0);
"""
    if kind == "m2m":
        tables = f"""
diesel::table! {{
    m{i}_tags (id) {{
        id -> BigInt,
        m{i}_id -> BigInt,
        m0_id -> BigInt,
    }}
}}

diesel::joinable!(m{i}_tags -> m{i} (m{i}_id));
diesel::joinable!(m{i}_tags -> m0 (m0_id));
diesel::allow_tables_to_appear_in_same_query!(m{i}_tags, m{i}, m0);

/// A row of the join table.
#[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone, PartialEq)]
#[diesel(table_name = m{i}_tags, belongs_to(M{i}), belongs_to(M0))]
pub struct M{i}Tag {{
    pub id: i64,
    pub m{i}_id: i64,
    pub m0_id: i64,
}}

/// A new row of the join table.
#[derive(Insertable)]
#[diesel(table_name = m{i}_tags)]
pub struct NewM{i}Tag {{
    pub m{i}_id: i64,
    pub m0_id: i64,
}}
"""
    new_parent = ""
    parent_field = ""
    if kind == "fk":
        new_parent = """    let parent: M0 = diesel::insert_into(m0::table)
        .values(&super::m0::NewM0 {
            title: "parent",
            count: 0,
            active: false,
            score: 0.0,
            created: when,
            note: None,
        })
        .returning(M0::as_returning())
        .get_result(conn)?;
"""
        parent_field = "        parent_id: parent.id,\n"
    after = ""
    if kind == "fk":
        after = f"""    let parent: M0 = m0::table.find(loaded.parent_id).select(M0::as_select()).first(conn)?;
    let siblings: Vec<M{i}> = M{i}::belonging_to(&parent).select(M{i}::as_select()).load(conn)?;
    total += parent.count as i64 + siblings.len() as i64;
"""
    elif kind == "m2m":
        after = f"""    let tag: M0 = diesel::insert_into(m0::table)
        .values(&super::m0::NewM0 {{
            title: "tag",
            count: 0,
            active: false,
            score: 0.0,
            created: when,
            note: None,
        }})
        .returning(M0::as_returning())
        .get_result(conn)?;
    diesel::insert_into(m{i}_tags::table)
        .values(&NewM{i}Tag {{ m{i}_id: row.id, m0_id: tag.id }})
        .execute(conn)?;
    let tags: Vec<M0> = m{i}_tags::table
        .inner_join(m0::table)
        .filter(m{i}_tags::m{i}_id.eq(row.id))
        .select(M0::as_select())
        .load(conn)?;
    total += tags.len() as i64;
"""
    new_fk_field = "    pub parent_id: i64,\n" if kind == "fk" else ""
    return f"""use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sqlite::SqliteConnection;
{imports}
diesel::table! {{
    m{i} (id) {{
        id -> BigInt,
        {t} -> Text,
        count -> Integer,
        active -> Bool,
        score -> Double,
        created -> Timestamp,
        note -> Nullable<Text>,
{fk_col}    }}
}}
{tables}
/// A stored row.
#[derive({derives})]
{assoc}#[diesel(table_name = m{i})]
pub struct M{i} {{
    pub id: i64,
    pub {t}: String,
    pub count: i32,
    pub active: bool,
    pub score: f64,
    pub created: NaiveDateTime,
    pub note: Option<String>,
{fk_field}}}

/// A new row.
#[derive(Insertable)]
#[diesel(table_name = m{i})]
pub struct NewM{i}<'a> {{
    pub {t}: &'a str,
    pub count: i32,
    pub active: bool,
    pub score: f64,
    pub created: NaiveDateTime,
    pub note: Option<&'a str>,
{new_fk_field}}}

/// Uses the model as an app would; returns a number so nothing is unused.
pub fn exercise(conn: &mut SqliteConnection, when: NaiveDateTime) -> QueryResult<i64> {{
{new_parent}    let row: M{i} = diesel::insert_into(m{i}::table)
        .values(&NewM{i} {{
            {t}: "a",
            count: 1,
            active: false,
            score: 0.0,
            created: when,
            note: None,
{parent_field}        }})
        .returning(M{i}::as_returning())
        .get_result(conn)?;
    let loaded: M{i} = m{i}::table.find(row.id).select(M{i}::as_select()).first(conn)?;
    let found: Vec<M{i}> = m{i}::table
        .filter(m{i}::{t}.eq("a"))
        .select(M{i}::as_select())
        .load(conn)?;
    let mut total = found.len() as i64 + loaded.count as i64;
{after}    let mut changed = loaded.clone();
    changed.count += 1;
    changed.active = !changed.active;
    diesel::update(&changed).set(&changed).execute(conn)?;
    total += diesel::delete(&changed).execute(conn)? as i64;
    Ok(total)
}}
"""


# ---------------------------------------------------------------- generation


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unchanged files keep their modification time (cargo's fingerprints).
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(app_dir, name, n, cargo, model, conn, err):
    write(app_dir / "Cargo.toml", cargo.format(repo=REPO, features=ORM_FEATURES))
    lock = app_dir / "Cargo.lock"
    if not lock.exists():
        shutil.copy(REPO / "Cargo.lock", lock)
    kinds = schema(n)
    mods = "".join(f"pub mod m{i};\n" for i, _ in kinds)
    calls = "".join(f"    total += m{i}::exercise(conn, when)?;\n" for i, _ in kinds)
    write(
        app_dir / "src" / "lib.rs",
        f"""//! {name}: {n} models, generated by scripts/compile-bench.py.

{mods}
/// Runs every model's `exercise`.
pub fn exercise_all(conn: &mut {conn}, when: chrono::NaiveDateTime) -> {err}<i64> {{
    let mut total = 0;
{calls}    Ok(total)
}}
""",
    )
    for i, kind in kinds:
        write(app_dir / "src" / f"m{i}.rs", model(i, kind))


def rename(app_dir, n, model, renamed):
    """Renames (or renames back) `title` in the last model, a plain one."""
    i, kind = schema(n)[-1]
    assert kind == "plain", "the last model is a plain one"
    write(app_dir / "src" / f"m{i}.rs", model(i, kind, renamed))


# ---------------------------------------------------------------- measuring


def cpu_seconds(args, cwd):
    """Runs `args` in `cwd`; the user + sys CPU seconds of it and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET), CARGO_INCREMENTAL="1")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"failed in {cwd}: {' '.join(args)}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(app_dir, pkg, n, model, repeat):
    # Dependencies (and the app once) in both the check and build modes.
    cpu_seconds(["cargo", "build"], app_dir)
    cpu_seconds(["cargo", "check"], app_dir)
    runs = {"check": [], "clean build": [], "incremental": []}
    renamed = False
    for _ in range(repeat):
        cpu_seconds(["cargo", "clean", "-p", pkg], app_dir)
        runs["check"].append(cpu_seconds(["cargo", "check"], app_dir))
        cpu_seconds(["cargo", "clean", "-p", pkg], app_dir)
        runs["clean build"].append(cpu_seconds(["cargo", "build"], app_dir))
        renamed = not renamed
        rename(app_dir, n, model, renamed)
        runs["incremental"].append(cpu_seconds(["cargo", "build"], app_dir))
    rename(app_dir, n, model, False)
    return {k: statistics.median(v) for k, v in runs.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="number of models (repeatable)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; the median is shown")
    parser.add_argument(
        "--orm-features",
        default="",
        help="orm-core features for the ORM app, comma-separated (e.g. postgres,mysql: every "
        "backend compiled in, as a multi-backend app has); default: orm-core's defaults (SQLite)",
    )
    args = parser.parse_args()
    global ORM_FEATURES
    ORM_FEATURES = ", ".join(f'"{f.strip()}"' for f in args.orm_features.split(",") if f.strip())
    sizes = args.n or [10, 50, 200]
    rows = []
    for n in sizes:
        base = ROOT / f"n{n}"
        orm_dir, diesel_dir = base / "orm_app", base / "diesel_app"
        generate(orm_dir, "orm_app", n, ORM_CARGO, orm_model, "orm_core::AnyConnection", "orm_core::Result")
        generate(diesel_dir, "diesel_app", n, DIESEL_CARGO, diesel_model, "diesel::sqlite::SqliteConnection", "diesel::QueryResult")
        print(f"N = {n}: measuring the ORM app ({orm_dir})", flush=True)
        orm = measure(orm_dir, "orm_app", n, orm_model, args.repeat)
        print(f"N = {n}: measuring the diesel app ({diesel_dir})", flush=True)
        plain = measure(diesel_dir, "diesel_app", n, diesel_model, args.repeat)
        rows.append((n, orm, plain))
        report(rows, args.repeat)


def report(rows, repeat):
    print(f"\nCPU seconds (user + sys), median of {repeat}; ratio = ORM / diesel")
    print(f"{'N':>4} | {'what':<12} | {'ORM':>8} | {'diesel':>8} | {'ratio':>6}")
    print("-" * 50)
    for n, orm, plain in rows:
        for what in ("check", "clean build", "incremental"):
            ratio = orm[what] / plain[what] if plain[what] else float("nan")
            print(f"{n:>4} | {what:<12} | {orm[what]:>8.1f} | {plain[what]:>8.1f} | {ratio:>5.2f}x")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
