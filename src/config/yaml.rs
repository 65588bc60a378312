//! models.yaml as text, around serde_yaml: the file read with a size cap, UTF-8 and control
//! characters checked, the depth scanner that runs before the parser, serde_yaml's errors led by
//! file:line:column, and the lines of keys and entries for errors raised after parsing.

use std::path::Path;

use anyhow::{Result, bail};
use serde::de::DeserializeOwned;

use super::{DEFAULT_CONFIG, yaml_errors};
use crate::limits;

/// The file's bytes, refusing what is not a regular file (`/dev/zero`, a FIFO, a folder) and reading
/// at most [`limits::CONFIG_BYTES`].
pub(super) fn read_capped(path: &Path) -> Result<Vec<u8>> {
    // The hint to pass --config is for the default path only: who gave --config X knows the flag.
    let cannot_read = || {
        if path == Path::new(DEFAULT_CONFIG) {
            format!("cannot read the model config {}: pass --config PATH or run mora from the repository root", path.display())
        } else {
            format!("cannot read the model config {}", path.display())
        }
    };
    limits::read_file(path, limits::CONFIG_FILE).map_err(|e| match e {
        limits::ReadError::Io { error, .. } => anyhow::Error::new(error).context(cannot_read()),
        refused => refused.into(),
    })
}

/// The file's bytes as text, or an error at the first byte that is not UTF-8.
pub(super) fn utf8(path: &Path, bytes: &[u8]) -> Result<String> {
    match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let (line, column) = line_and_column(bytes, at);
            bail!(
                "{}:{line}:{column}: byte 0x{:02x} is not UTF-8 text: is this the right file? (a models.yaml is UTF-8 YAML)",
                path.display(),
                bytes[at]
            );
        }
    }
}

/// YAML text read into `T`, after the checks serde_yaml does too slowly or without a useful place.
pub(super) fn from_str<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T> {
    if let Some(line) = too_deep(text) {
        bail!(
            "{}:{line}: nested deeper than {} levels (brackets, braces, dashes or indentation): a models.yaml needs about 6; is this the right file?",
            path.display(),
            limits::CONFIG_DEPTH
        );
    }
    // serde_yaml places a control character at 1:1 with a byte index; the line and column are the help.
    if let Some((at, c)) = text.char_indices().find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}')) {
        let (line, column) = line_and_column(text.as_bytes(), at);
        bail!("{}:{line}:{column}: control character U+{:04X} is not allowed in YAML: remove it", path.display(), c as u32);
    }
    serde_yaml::from_str(text).map_err(|e| yaml_error(text, path, &e))
}

/// The first line where the YAML nests deeper than [`limits::CONFIG_DEPTH`]: flow brackets and
/// braces outside quotes and comments, plus block levels (indentation and `- - -`). A cheap look
/// before serde_yaml, whose parser takes time quadratic in the depth (100,000 nested brackets: 20 s
/// in a release build, 50 s in a debug one). It may over-count inside
/// block scalars; a real models.yaml is nowhere near the limit.
fn too_deep(text: &str) -> Option<usize> {
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<char> = None;
    for (i, line) in text.lines().enumerate() {
        let mut block = indents.len();
        if flow == 0 && quote.is_none() {
            let body = line.trim_start_matches(' ');
            if !body.is_empty() && !body.starts_with('#') {
                let indent = line.len() - body.len();
                while indents.last().is_some_and(|&top| top >= indent) {
                    indents.pop();
                }
                indents.push(indent);
                // `- - - x` opens a sequence per dash on one line.
                let dashes = body.split(' ').take_while(|t| *t == "-" || t.is_empty()).filter(|t| *t == "-").count();
                block = indents.len() + dashes;
            }
        }
        let (mut prev, mut last_token, mut escaped) = (' ', None::<char>, false);
        for c in line.chars() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev == ' ' || prev == '\t' => break,
                    // A quote opens a scalar only where a scalar can start: `key: 'x'`, `- "x"`, `['x'`.
                    '"' | '\'' if matches!((prev, last_token), (' ' | '\t', None | Some(':' | '-' | '?' | ',')) | ('[' | '{' | ',', _)) => {
                        quote = Some(c)
                    }
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            if block + flow > limits::CONFIG_DEPTH {
                return Some(i + 1);
            }
            if !c.is_whitespace() {
                last_token = Some(c);
            }
            prev = c;
        }
        if block + flow > limits::CONFIG_DEPTH {
            return Some(i + 1);
        }
    }
    None
}

/// serde_yaml's error as "FILE:LINE:COLUMN: message: fix", at the line where the structure broke.
fn yaml_error(text: &str, path: &Path, e: &serde_yaml::Error) -> anyhow::Error {
    match yaml_errors::explain(text, e) {
        (Some((line, column)), message) => anyhow::anyhow!("{}:{line}:{column}: {message}", path.display()),
        (None, message) => anyhow::anyhow!("{}: {message}", path.display()),
    }
}

/// 1-based line and column (in characters) of byte `offset` of `bytes`.
fn line_and_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (before.iter().filter(|&&b| b == b'\n').count() + 1, column)
}

/// 1-based line of the first line containing `needle` (trimmed start), for errors after parsing.
pub(super) fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with(needle)).map(|i| i + 1)
}

/// The 1-based line of each entry of the top-level block list `models:`, in order: the entry's `id:`
/// line, else its dash. Empty where `models:` is not a block list (flow style `[...]`).
pub(super) fn model_entry_lines(text: &str) -> Vec<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let Some(start) = lines.iter().position(|l| l.starts_with("models:") && l["models:".len()..].trim().is_empty()) else {
        return vec![];
    };
    // (dash line, the entry's keys' indentation (that of the first key under a bare dash), its id line)
    let mut entries: Vec<(usize, Option<usize>, Option<usize>)> = Vec::new();
    let mut dash_indent = None;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        let body = l.trim_start_matches(' ');
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        let indent = l.len() - body.len();
        let is_dash = body == "-" || body.starts_with("- ");
        if indent == 0 && !is_dash {
            break; // the next top-level key
        }
        if is_dash && *dash_indent.get_or_insert(indent) == indent {
            let rest = body[1..].trim_start_matches(' ');
            let key_indent = (!rest.is_empty()).then(|| l.len() - rest.len());
            let on_dash = rest.starts_with("id:") || rest.starts_with('{');
            entries.push((i + 1, key_indent, on_dash.then_some(i + 1)));
        } else if let Some((_, key_indent, id @ None)) = entries.last_mut()
            && *key_indent.get_or_insert(indent) == indent
            && body.starts_with("id:")
        {
            *id = Some(i + 1);
        }
    }
    entries.into_iter().map(|(dash, _, id)| id.unwrap_or(dash)).collect()
}

pub(super) fn line_of_model(text: &str, id: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.strip_prefix("id:").is_some_and(|rest| rest.trim().trim_matches(['"', '\'']) == id)
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::super::tests::{VALID, error_of, parse};
    use super::*;
    use crate::config::Config;

    #[test]
    fn unknown_key_names_file_line_and_column() {
        let text = VALID.replace("    weights: random\n", "    weights: random\n    sequence_lenght: 3\n");
        let e = error_of(&text);
        assert!(e.starts_with("conf/models.yaml:13:5: models[1]: "), "{e}");
        assert!(e.contains("unknown field `sequence_lenght`"), "{e}");
    }

    #[test]
    fn wrong_type_names_line() {
        let e = error_of(&VALID.replace("runs: 7", "runs: seven"));
        assert!(e.starts_with("conf/models.yaml:3:"), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn missing_field_names_line() {
        let e = error_of(&VALID.replacen("    type: embedding\n", "", 1));
        assert!(e.contains("missing field `type`"), "{e}");
        assert!(e.starts_with("conf/models.yaml:5:"), "{e}");
    }

    #[test]
    fn unknown_enum_value_is_an_error() {
        let e = error_of(&VALID.replace("type: embedding", "type: embeding"));
        assert!(e.contains("unknown variant `embeding`"), "{e}");
        let e = error_of(&VALID.replace("kind: local", "kind: nowhere"));
        assert!(e.contains("unknown variant `nowhere`"), "{e}");
    }

    #[test]
    fn unknown_key_inside_a_source_is_an_error() {
        let e = error_of(&VALID.replace("file: f.onnx}", "file: f.onnx, flie: x}"));
        assert!(e.contains("unknown field `flie`"), "{e}");
    }

    #[test]
    fn deep_nesting_is_refused_before_the_parser() {
        let deep = |open: &str, close: &str, n: usize| format!("schema: 1\nmodels: {}{}\n", open.repeat(n), close.repeat(n));
        for (open, close) in [("[", "]"), ("{a: ", "}")] {
            let start = std::time::Instant::now();
            let e = error_of(&deep(open, close, 100_000));
            assert!(e.starts_with("conf/models.yaml:2: nested deeper than 64 levels"), "{e}");
            assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
            assert!(!error_of(&deep(open, close, 60)).contains("nested deeper"), "60 levels are the parser's to judge");
        }
        let indented: String = (0..100).map(|i| format!("{}k{i}:\n", " ".repeat(i))).collect();
        assert!(error_of(&format!("schema: 1\n{indented}")).starts_with("conf/models.yaml:66: nested deeper"));
        let dashes = format!("schema: 1\nmodels:\n{}x\n", "- ".repeat(100));
        assert!(error_of(&dashes).starts_with("conf/models.yaml:3: nested deeper"));
        // Brackets inside quotes and comments are text, not nesting.
        let quoted = VALID.replace("    suite: optional\n", &format!("    suite: optional\n    about: '{0}' # {0}\n", "[".repeat(200)));
        assert!(parse(&quoted).is_ok(), "{}", error_of(&quoted));
        let apostrophes = VALID.replace("    suite: optional\n", "    suite: optional\n    about: it's gpt2's [\n");
        assert!(too_deep(&apostrophes).is_none());
        let escaped = VALID.replace("    suite: optional\n", "    suite: optional\n    about: \"a \\\\\"\n");
        assert!(parse(&escaped).is_ok(), "an escaped backslash ends the string: {}", error_of(&escaped));
    }

    #[test]
    fn only_regular_files_of_at_most_4_mib_are_read() {
        let e = format!("{:#}", Config::load(Path::new("/dev/zero")).unwrap_err());
        assert_eq!(e, "/dev/zero is a device, pipe or socket, not a regular file: --config takes a models.yaml file");
        let dir = tempfile::tempdir().unwrap();
        let e = format!("{:#}", Config::load(dir.path()).unwrap_err());
        assert!(e.ends_with("is a folder, not a regular file: --config takes a models.yaml file"), "{e}");
        let big = dir.path().join("models.yaml");
        std::fs::write(&big, format!("{VALID}{}", "# padding\n".repeat(500_000))).unwrap();
        let e = format!("{:#}", Config::load(&big).unwrap_err());
        assert!(e.ends_with("models.yaml is larger than 4 MiB: a models.yaml is a few KB; is this the right file?"), "{e}");
    }

    #[test]
    fn malformed_yaml_names_line() {
        let e = error_of("schema: 1\nmodels:\n  - id: [unclosed\n");
        assert!(e.starts_with("conf/models.yaml:"), "{e}");
    }
}
