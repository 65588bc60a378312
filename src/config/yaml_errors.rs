//! serde_yaml's errors as models.yaml errors: led by the file and the line where the structure broke,
//! ending with the fix in words. Two things make serde_yaml's own report mislead on an indentation
//! mistake: it hands serde the events it parsed before a syntax error, so a key one space off was
//! reported as a missing field at the entry's line; and a key at the wrong level is "unknown" or
//! "missing" with a hint to check the spelling. So the text is parsed once more without types to find
//! a syntax error first, and the lines' indentation says which key moved where.
//! tests/fixtures/yaml/ holds one file per mistake with the line PyYAML names for it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::de::IgnoredAny;
use serde_json::Value;

/// Past this many lines, errors carry serde_yaml's words and place without hints.
const MOST_LINES: usize = 5_000;

/// A line and a column, 1-based.
type At = (usize, usize);

/// `typed`, the error of reading `text` into the config types, as "LINE:COLUMN: message: fix" (or a
/// bare message where nothing says where).
pub(super) fn explain(text: &str, typed: &serde_yaml::Error) -> (Option<At>, String) {
    let mut lines = Lines::new(text);
    // The hints compare lines with each other (quadratic); a models.yaml has a few hundred.
    if lines.0.len() > MOST_LINES {
        lines.0.clear();
    }
    match serde_yaml::from_str::<IgnoredAny>(text) {
        Err(syntax) => syntax_error(&lines, &Report::of(&syntax)),
        Ok(_) => typed_error(&lines, &Report::of(typed)),
    }
}

/// serde_yaml's message split into its parts: "PROBLEM at line L column C, while CONTEXT at line L
/// column C" from the YAML parser, "PATH: MESSAGE at line L column C" from serde.
struct Report {
    problem: String,
    at: Option<At>,
    context: Option<(String, Option<At>)>,
}

impl Report {
    fn of(e: &serde_yaml::Error) -> Report {
        let text = e.to_string();
        let (head, context) = match text.split_once(", while ") {
            Some((head, context)) => (head, Some(context)),
            None => (text.as_str(), None),
        };
        let context = context.map(|c| match c.split_once(" at line ") {
            Some((what, place)) => (what.to_string(), place_of(place)),
            None => (c.to_string(), None),
        });
        let problem = head.split(" at line ").next().unwrap_or(head).to_string();
        Report { problem, at: e.location().map(|l| (l.line(), l.column())), context }
    }

    fn context_is(&self, what: &str) -> Option<At> {
        self.context.as_ref().filter(|(c, _)| c.starts_with(what)).and_then(|(_, at)| *at)
    }
}

/// "12 column 5" -> (12, 5).
fn place_of(place: &str) -> Option<At> {
    let (line, column) = place.split_once(" column ")?;
    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
}

/// One line of models.yaml that holds something: not blank, not only a comment.
#[derive(Debug)]
struct Line<'a> {
    /// 1-based.
    number: usize,
    /// Spaces before the first character.
    indent: usize,
    /// The column (0-based) of the line's `- `, where it starts a list item.
    dash: Option<usize>,
    /// The column (0-based) of what follows the indentation and any `- `.
    key_col: usize,
    /// The plain key of a `key: value` or `key:` line.
    key: Option<&'a str>,
    /// What follows the key's colon, trimmed, comments included.
    value: &'a str,
    /// Whether the indentation holds a tab.
    tab: bool,
    text: &'a str,
}

struct Lines<'a>(Vec<Line<'a>>);

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let mut lines = Vec::new();
        // The body of a block scalar (`about: |`) is text, not structure.
        let mut scalar_above: Option<usize> = None;
        for (i, raw) in text.lines().enumerate() {
            let body = raw.trim_start_matches([' ', '\t']);
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            if scalar_above.is_some_and(|floor| indent > floor) {
                continue;
            }
            scalar_above = None;
            let lead = raw.len() - body.len();
            let mut rest = body;
            let mut dash = None;
            let mut col = lead;
            while rest == "-" || rest.starts_with("- ") {
                dash.get_or_insert(col);
                let after = rest[1..].trim_start_matches(' ');
                col += rest.len() - after.len();
                rest = after;
            }
            let (key, value) = match split_key(rest) {
                Some((key, value)) => (Some(key), value),
                None => (None, ""),
            };
            if value.starts_with('|') || value.starts_with('>') {
                scalar_above = Some(col);
            }
            lines.push(Line { number: i + 1, indent, dash, key_col: col, key, value, tab: raw[..lead].contains('\t'), text: raw });
        }
        Lines(lines)
    }

    /// The index of the line numbered `number`, or of the first one after it.
    fn at(&self, number: usize) -> Option<usize> {
        self.0.iter().position(|l| l.number >= number)
    }

    /// The keys that hold line `i`, outermost first, each with its line; `[]` for a list item. Read
    /// from indentation alone, as YAML's block style nests.
    fn path(&self, i: usize) -> Vec<(&'a str, usize)> {
        let me = &self.0[i];
        let mut out = Vec::new();
        // Looking for the key that holds a mapping at column `col`, or with `list`, a list whose
        // dashes are at `col`.
        let (mut col, mut list) = (me.key_col, false);
        if let Some(d) = me.dash {
            out.push(("[]", me.number));
            (col, list) = (d, true);
        }
        for l in self.0[..i].iter().rev() {
            let parent = if list {
                // Its own earlier items, and what is inside them, sit at or right of `col`.
                l.dash != Some(col) && l.indent <= col
            } else if l.key_col == col {
                if let Some(d) = l.dash {
                    out.push(("[]", l.number));
                    (col, list) = (d, true);
                }
                false
            } else {
                l.key_col < col
            };
            if !parent {
                continue;
            }
            match l.key {
                Some(key) if l.key_col < col || list => {
                    out.push((key, l.number));
                    (col, list) = (l.key_col, false);
                    if let Some(d) = l.dash {
                        out.push(("[]", l.number));
                        (col, list) = (d, true);
                    }
                }
                _ => break,
            }
        }
        out.reverse();
        out
    }

    /// The nearest line above `i` indented less than it.
    fn holder(&self, i: usize) -> Option<usize> {
        (0..i).rev().find(|&j| self.0[j].indent < self.0[i].indent)
    }

    #[cfg(test)]
    fn names(&self, i: usize) -> Vec<&'a str> {
        self.path(i).into_iter().map(|(name, _)| name).collect()
    }

    /// The end (exclusive) of what belongs to line `i`: the lines after it indented deeper than its
    /// dash, or than its key where it has no dash.
    fn span_end(&self, i: usize) -> usize {
        let l = &self.0[i];
        let inside = |m: &Line| match l.dash {
            Some(d) => m.indent > d,
            None => m.indent >= l.key_col && l.key_col > 0,
        };
        self.0[i + 1..].iter().position(|m| !inside(m)).map_or(self.0.len(), |n| i + 1 + n)
    }
}

/// `key: value` or `key:` -> (key, value); `None` for a quoted key, a flow collection or a plain
/// scalar.
fn split_key(rest: &str) -> Option<(&str, &str)> {
    if rest.starts_with(['"', '\'', '{', '[', '#', '&', '*', '!', '|', '>', '?']) {
        return None;
    }
    let bytes = rest.as_bytes();
    let colon = (0..bytes.len()).find(|&i| bytes[i] == b':' && bytes.get(i + 1).is_none_or(|b| *b == b' ' || *b == b'\t'))?;
    let key = rest[..colon].trim_end();
    if key.is_empty() || key.contains(" #") {
        return None;
    }
    Some((key, rest[colon + 1..].trim()))
}

fn spaces(n: usize) -> String {
    match n {
        1 => "1 space".to_string(),
        n => format!("{n} spaces"),
    }
}

fn syntax_error(lines: &Lines, r: &Report) -> (Option<At>, String) {
    let problem = &r.problem;
    let at_line = r.at.and_then(|(line, _)| lines.at(line)).filter(|&i| Some(lines.0[i].number) == r.at.map(|a| a.0));
    // A tab in the indentation is the cause whatever the parser makes of it.
    if let Some(i) = at_line.filter(|&i| lines.0[i].tab) {
        let l = &lines.0[i];
        let like = i.checked_sub(1).map(|p| format!(" (line {} is indented {})", lines.0[p].number, spaces(lines.0[p].indent)));
        return (
            r.at,
            format!(
                "{problem}: line {} indents with a tab, and YAML indents with spaces only: replace the tab with spaces{}",
                l.number,
                like.unwrap_or_default()
            ),
        );
    }
    if let Some(open) = r.context_is("scanning a quoted scalar") {
        let quote = char_at(lines, open).filter(|c| matches!(c, '\'' | '"')).unwrap_or('\'');
        let end = r.at.map(|(l, _)| format!(", line {l}")).unwrap_or_default();
        return (
            Some(open),
            format!(
                "the value quoted with `{quote}` here is never closed, so the rest of the file became its text (up to its end{end}): close it with `{quote}`"
            ),
        );
    }
    for (what, open, close) in [("parsing a flow sequence", '[', ']'), ("parsing a flow mapping", '{', '}')] {
        if let Some(from) = r.context_is(what) {
            let met = r.at.map(|(l, c)| match char_at(lines, (l, c)) {
                Some(found) => format!(" (line {l} column {c} has `{found}`)"),
                None => format!(" (by line {l} column {c})"),
            });
            return (
                Some(from),
                format!("the `{open}` here is not closed{}: close it with `{close}`, or add the missing `,`", met.unwrap_or_default()),
            );
        }
    }
    if let Some(start) = r.context_is("scanning a simple key") {
        let line = lines.at(start.0).map(|i| lines.0[i].text.trim()).unwrap_or_default();
        let fix = match line.split_once(':') {
            Some((key, _)) => format!("write `{}: ` with a space after the colon", key.trim_start_matches("- ")),
            None => "a key needs a colon and a space after it (`key: value`)".to_string(),
        };
        return (Some(start), format!("`{line}` is neither `key: value` nor a list item: {fix}"));
    }
    let fix = at_line.and_then(|i| match problem.as_str() {
        "mapping values are not allowed in this context" => deeper_than_above(lines, i, r.at.map_or(0, |a| a.1)),
        "did not find expected '-' indicator" => off_the_list(lines, i, r.context_is("parsing a block collection")),
        "did not find expected key" => off_the_mapping(lines, i),
        _ => None,
    });
    match fix {
        Some(fix) => (r.at, format!("{problem}: {fix}")),
        None => (r.at, problem.clone()),
    }
}

/// The character at a 1-based line and column.
fn char_at(lines: &Lines, (line, column): At) -> Option<char> {
    let l = lines.0.iter().find(|l| l.number == line)?;
    l.text.chars().nth(column.checked_sub(1)?)
}

/// "mapping values are not allowed" on line `i` (at `column`): a `key:` where YAML reads more of the
/// line above's value, because line `i` is indented deeper than the key above it (or the key above
/// is indented less than the keys around it); or a value that holds `: `.
fn deeper_than_above(lines: &Lines, i: usize, column: usize) -> Option<String> {
    let l = &lines.0[i];
    let key = l.key?;
    // The second `: ` of `about: a: b`, past the key's own colon.
    if column > l.key_col + key.len() + 1 {
        return Some(format!("the value of `{key}` on line {} holds `: `: quote it ('...')", l.number));
    }
    let above = &lines.0[i.checked_sub(1)?];
    if l.key_col <= above.key_col {
        return None;
    }
    let n = above.number;
    // The entry above lost its dash: the list's other entries start with `- ` at its indentation.
    if above.dash.is_none() {
        let a = i - 1;
        let holder = lines.holder(a);
        if let Some(item) = (0..lines.0.len()).find(|&j| j != a && lines.0[j].dash == Some(above.indent) && lines.holder(j) == holder)
            && let Some(list) = holder.and_then(|h| lines.0[h].key)
        {
            return Some(format!(
                "line {n} is not a list item, though the other entries of `{list}:` start with `- ` at {} (line {}), so line {} reads as more of its value: write line {n} as `{}- {}`",
                spaces(above.indent),
                lines.0[item].number,
                l.number,
                " ".repeat(above.indent),
                above.text.trim_start()
            ));
        }
    }
    if let Some(odd) = dedented_above(lines, i) {
        return Some(format!(
            "{odd}, and YAML reads line {} as more of line {n}'s value: indent `{}` to {}",
            l.number,
            above.key?,
            spaces(l.key_col)
        ));
    }
    Some(format!(
        "line {} is indented {}, deeper than the line above it ({}, line {n}), so YAML reads it as more of line {n}'s value: indent `{key}` to {}, as the keys beside it",
        l.number,
        spaces(l.key_col),
        spaces(above.key_col),
        spaces(above.key_col)
    ))
}

/// Where the key on the line above `i` is the odd one, indented less than the line before it and line
/// `i`: it closed the mapping the two others are in. Says so, up to the consequence and the fix.
fn dedented_above(lines: &Lines, i: usize) -> Option<String> {
    let (l, above, before) = (&lines.0[i], &lines.0[i.checked_sub(1)?], &lines.0[i.checked_sub(2)?]);
    let key = above.key?;
    if before.key_col != l.key_col || before.dash.is_some() || above.key_col >= l.key_col || l.dash.is_some() {
        return None;
    }
    let holder = lines.path(i - 2).last().map(|(name, line)| format!(": it closed `{name}:` (line {line})")).unwrap_or_default();
    Some(format!(
        "line {} (`{key}:`) is indented {}, less than the keys around it ({}, lines {} and {}){holder}",
        above.number,
        spaces(above.key_col),
        spaces(l.key_col),
        before.number,
        l.number
    ))
}

/// "did not find expected '-' indicator": inside a list (whose first item is at `list`), line `i`
/// is neither an item at the list's indentation nor a key at its entries'.
fn off_the_list(lines: &Lines, i: usize, list: Option<At>) -> Option<String> {
    let l = &lines.0[i];
    let (start, column) = list?;
    let dash = column.checked_sub(1)?;
    if l.dash.is_some() {
        return Some(format!(
            "line {}'s `- ` is at {}, but the items of the list at line {start} are at {}: indent it to {}",
            l.number,
            spaces(l.indent),
            spaces(dash),
            spaces(dash)
        ));
    }
    let item = lines.0[..i].iter().rev().find(|m| m.dash == Some(dash))?;
    let new_entry = if l.indent == dash { " (or start it with `- ` if it begins a new entry)" } else { "" };
    Some(format!(
        "line {} is indented {} inside the list at line {start}, whose items start with `- ` at {} and whose keys are at {}: indent `{}` to {}, as `{}:` on line {}{new_entry}",
        l.number,
        spaces(l.indent),
        spaces(dash),
        spaces(item.key_col),
        l.key.unwrap_or(l.text.trim()),
        spaces(item.key_col),
        item.key.unwrap_or("-"),
        item.number
    ))
}

/// "did not find expected key": line `i` lines up with no mapping or list above it.
fn off_the_mapping(lines: &Lines, i: usize) -> Option<String> {
    let l = &lines.0[i];
    if let Some(d) = l.dash {
        let item = lines.0[..i].iter().rev().find(|m| m.dash.is_some_and(|e| e != d))?;
        let to = item.dash?;
        return Some(format!(
            "line {}'s `- ` is at {}, but the items of the list above it (line {}) are at {}: indent it to {}",
            l.number,
            spaces(d),
            item.number,
            spaces(to),
            spaces(to)
        ));
    }
    if let Some(odd) = dedented_above(lines, i) {
        let key = lines.0[i - 1].key?;
        return Some(format!(
            "{odd}, so line {} at {} is inside no mapping: indent `{key}` to {}",
            l.number,
            spaces(l.key_col),
            spaces(l.key_col)
        ));
    }
    // The key columns open above: the line before, and each key that holds it.
    let above = i.checked_sub(1)?;
    let mut open: Vec<(usize, &str, usize)> = vec![(lines.0[above].key_col, lines.0[above].key.unwrap_or("-"), lines.0[above].number)];
    for (name, line) in lines.path(above) {
        if let Some(m) = lines.0.iter().find(|m| m.number == line) {
            let name = if name == "[]" { m.key.unwrap_or("-") } else { name };
            open.push((m.key_col, name, m.number));
        }
    }
    let like = |(col, name, line): (usize, &str, usize)| format!("{}, as `{name}:` on line {line}", spaces(col));
    let deeper = open.iter().filter(|o| o.0 > l.key_col).min_by_key(|o| o.0).copied();
    let shallower = open.iter().filter(|o| o.0 < l.key_col).max_by_key(|o| o.0).copied();
    let to = match (deeper, shallower) {
        (Some(d), Some(s)) => format!("{}, or to {}", like(d), like(s)),
        (Some(one), None) | (None, Some(one)) => like(one),
        (None, None) => return None,
    };
    Some(format!(
        "line {} is indented {}, which lines up with no key above it: indent `{}` to {to}",
        l.number,
        spaces(l.key_col),
        l.key.unwrap_or(l.text.trim())
    ))
}

fn typed_error(lines: &Lines, r: &Report) -> (Option<At>, String) {
    let message = &r.problem;
    let line = r.at.and_then(|(line, _)| lines.at(line));
    if let Some(key) = between(message, "unknown field `", "`") {
        // serde_yaml names the entry, not the key, inside `source:` and `tokenizer:` (their `kind`
        // makes serde buffer them): the key's own line is the first below with that key.
        if let Some(i) = line.and_then(|i| (i..lines.span_end(i).max(i + 1)).find(|&j| lines.0[j].key == Some(key))) {
            let at = Some((lines.0[i].number, lines.0[i].key_col + 1));
            return match misplaced(lines, i) {
                Some(fix) => (at, format!("{message}: {fix}")),
                None => (at, format!("{message}{SPELLING}")),
            };
        }
        return (r.at, format!("{message}{SPELLING}"));
    }
    if let Some(key) = between(message, "missing field `", "`") {
        if let Some((at, fix)) = line.and_then(|i| moved_away(lines, i, key)) {
            return (Some(at), format!("{message}: {fix}"));
        }
        return (r.at, format!("{message} (add it to the entry)"));
    }
    let hint = if message.contains("unknown variant") {
        " (use one of the values listed)"
    } else if message.contains("invalid type: map, expected a sequence") {
        ": write it as a list, each item starting with `- `"
    } else {
        ""
    };
    (r.at, format!("{message}{hint}"))
}

const SPELLING: &str = " (check the spelling; models.yaml's keys are listed at the top of the file and in docs/models.md)";

fn between<'m>(message: &'m str, start: &str, end: &str) -> Option<&'m str> {
    let (_, rest) = message.split_once(start)?;
    Some(rest.split_once(end)?.0)
}

/// "missing field `key`" in the entry at line `i`: `key` may be there, moved out of the entry by its
/// indentation (into a mapping inside it, or out to the left) or by a `- ` that started a new item.
fn moved_away(lines: &Lines, i: usize, key: &str) -> Option<(At, String)> {
    let end = lines.span_end(i);
    for j in i + 1..end {
        if lines.0[j].key == Some(key)
            && let Some(fix) = misplaced(lines, j)
        {
            return Some(((lines.0[j].number, lines.0[j].key_col + 1), fix));
        }
    }
    let next = lines.0.get(end)?;
    let entry = &lines.0[i];
    if next.key == Some(key) && next.dash.is_some() && next.dash == entry.dash {
        // The new item has no `id`: it is the rest of the entry above.
        let has_id = (end..lines.span_end(end)).any(|k| lines.0[k].key == Some("id") && lines.0[k].key_col == next.key_col);
        if !has_id {
            return Some((
                (next.number, next.indent + 1),
                format!(
                    "line {} starts a new list item with `- {key}:`, so `{key}` and the keys below it left the entry at line {}: remove the `- ` and indent `{key}` to {}, as `{}:` on line {}",
                    next.number,
                    entry.number,
                    spaces(entry.key_col),
                    entry.key.unwrap_or("-"),
                    entry.number
                ),
            ));
        }
    }
    if next.key == Some(key) {
        let fix = misplaced(lines, end)?;
        return Some(((next.number, next.key_col + 1), fix));
    }
    None
}

/// Where key line `i` sits, when models.yaml's schema has that key only somewhere else: which
/// mapping it is in, where it belongs, and the indentation that puts it there.
fn misplaced(lines: &Lines, i: usize) -> Option<String> {
    let l = &lines.0[i];
    let key = l.key?;
    let here = lines.path(i);
    let names: Vec<&str> = here.iter().map(|(name, _)| *name).collect();
    let homes = key_homes().get(key)?;
    if homes.iter().any(|h| h.iter().map(String::as_str).eq(names.iter().copied())) {
        return None;
    }
    let shared = |h: &[String]| h.iter().zip(&names).take_while(|(a, b)| a.as_str() == **b).count();
    let home = homes.iter().max_by_key(|h| shared(h))?;
    let common = shared(home);
    let describe = |path: &[(&str, usize)]| match path {
        [] => "at the top level".to_string(),
        [.., (list, _), ("[]", line)] => format!("in an entry of `{list}:` (line {line})"),
        [.., (name, line)] => format!("under `{name}:` (line {line})"),
    };
    // A key already where `key` belongs, in the same entry: its column is the indentation to use.
    let beside = (0..lines.0.len())
        .filter(|&j| j != i && lines.0[j].key.is_some())
        .filter(|&j| {
            let path = lines.path(j);
            path.iter().map(|(name, _)| *name).eq(home.iter().map(String::as_str)) && path[..common] == here[..common]
        })
        .min_by_key(|&j| lines.0[j].number.abs_diff(l.number));
    let home_name = match home.last().map(String::as_str) {
        None => "the top level".to_string(),
        Some("[]") => format!("an entry of `{}:`", home.iter().rev().nth(1).map_or("-", |s| s.as_str())),
        Some(name) => match home.iter().rev().nth(1).map(String::as_str) {
            Some(outer) if outer != "[]" => format!("`{name}:` under `{outer}:`"),
            _ => format!("`{name}:`"),
        },
    };
    let fix = match beside {
        Some(j) => {
            let b = &lines.0[j];
            format!("indent it to {}, as `{}:` on line {}", spaces(b.key_col), b.key.unwrap_or("-"), b.number)
        }
        None => match home_line(lines, home, &here[..common]) {
            Some(h) if h.value.is_empty() || h.value.starts_with('#') => {
                format!("indent it to {}, under `{}:` on line {}", spaces(h.key_col + 2), h.key.unwrap_or("-"), h.number)
            }
            Some(h) => format!("move it into `{}: {}` on line {}", h.key.unwrap_or("-"), h.value, h.number),
            None => format!("move it into {home_name}"),
        },
    };
    Some(format!("`{key}` on line {} is {}, but it is a key of {home_name}: {fix}", l.number, describe(&here)))
}

/// The line of the key that opens `home` (`defaults:`, `source: {...}`), in the entry `within`.
fn home_line<'l, 'a>(lines: &'l Lines<'a>, home: &[String], within: &[(&str, usize)]) -> Option<&'l Line<'a>> {
    let (name, outer) = home.split_last()?;
    (0..lines.0.len()).map(|j| (j, lines.path(j))).find_map(|(j, path)| {
        let holds = lines.0[j].key == Some(name.as_str())
            && path.iter().map(|(n, _)| *n).eq(outer.iter().map(String::as_str))
            && path.get(..within.len()) == Some(within);
        holds.then(|| &lines.0[j])
    })
}

/// For each key models.yaml's schema knows, the paths of the mappings that may hold it (`[]` for a
/// list item), read from the JSON Schema the config types generate.
fn key_homes() -> &'static BTreeMap<String, Vec<Vec<String>>> {
    static HOMES: OnceLock<BTreeMap<String, Vec<Vec<String>>>> = OnceLock::new();
    HOMES.get_or_init(|| {
        let schema = super::models_schema();
        let mut homes = BTreeMap::new();
        walk(&schema, &schema, &mut Vec::new(), &mut homes, 0);
        homes
    })
}

fn walk(root: &Value, node: &Value, path: &mut Vec<String>, homes: &mut BTreeMap<String, Vec<Vec<String>>>, depth: usize) {
    // models.yaml nests about 6 deep; the bound keeps a recursive schema from looping.
    if depth > 12 {
        return;
    }
    if let Some(name) = node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/"))
        && let Some(def) = root.get("$defs").and_then(|d| d.get(name))
    {
        walk(root, def, path, homes, depth + 1);
    }
    for any in ["oneOf", "anyOf", "allOf"] {
        for sub in node.get(any).and_then(Value::as_array).into_iter().flatten() {
            walk(root, sub, path, homes, depth + 1);
        }
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (key, sub) in properties {
            let at = homes.entry(key.clone()).or_default();
            if !at.contains(path) {
                at.push(path.clone());
            }
            path.push(key.clone());
            walk(root, sub, path, homes, depth + 1);
            path.pop();
        }
    }
    if let Some(items) = node.get("items").filter(|i| i.is_object()) {
        path.push("[]".to_string());
        walk(root, items, path, homes, depth + 1);
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_know_the_keys_that_hold_them() {
        let text = "schema: 1\nmodels:\n  - id: a\n    source:\n      kind: local\n    tokenizer: {kind: file}\n- id: b\n";
        let lines = Lines::new(text);
        let paths: Vec<Vec<&str>> = (0..lines.0.len()).map(|i| lines.names(i)).collect();
        assert_eq!(paths[0], Vec::<&str>::new());
        assert_eq!(paths[2], ["models", "[]"]);
        assert_eq!(paths[3], ["models", "[]"]);
        assert_eq!(paths[4], ["models", "[]", "source"]);
        assert_eq!(paths[5], ["models", "[]"]);
        // An indentless item at column 0 belongs to `models:` as well.
        assert_eq!(paths[6], ["models", "[]"]);
    }

    #[test]
    fn the_schema_says_where_each_key_belongs() {
        let homes = key_homes();
        let at = |key: &str| homes[key].iter().map(|p| p.join(".")).collect::<Vec<_>>();
        assert_eq!(at("runs"), ["defaults"]);
        assert_eq!(at("suite"), ["models.[]"]);
        assert!(at("task").contains(&"models.[].source".to_string()), "{:?}", at("task"));
        assert!(at("intra_threads").contains(&"providers.cpu".to_string()), "{:?}", at("intra_threads"));
    }

    #[test]
    fn a_block_scalar_is_text_and_a_quoted_key_has_no_key() {
        let lines = Lines::new("about: |\n  a: b\n  - c\n'q': 1\nx:y\n");
        assert_eq!(lines.0.len(), 3, "{:?}", lines.0);
        assert_eq!(lines.0[1].key, None);
        assert_eq!(lines.0[2].key, None, "a colon without a space is part of a plain scalar");
    }
}
