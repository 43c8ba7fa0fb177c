//! The README stays true to the command line, cheaply (no libtorch work, no process started):
//! - every `autogan ...` line in a fenced code block parses with the real clap definition
//!   (`autogan::cli::Cli`), so a renamed or removed flag, or a misspelt one, fails here;
//! - every command of `autogan --help` (and every subcommand of those that have some) is named
//!   in the README's command table, so a new command cannot be left out of it.
use autogan::cli::Cli;
use clap::{CommandFactory, Parser};

fn readme() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines inside fenced code blocks (``` or ~~~), with their 1-based line numbers, lines
/// ending in `\` joined with the next (as the shell joins them).
fn fenced_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        match fence {
            None => {
                for f in ["```", "~~~"] {
                    if t.starts_with(f) {
                        fence = Some(f);
                    }
                }
                continue;
            }
            Some(f) if t.starts_with(f) => {
                fence = None;
                if let Some(p) = pending.take() {
                    out.push(p);
                }
                continue;
            }
            Some(_) => {}
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(line);
                out.push((start, joined));
            }
        }
    }
    assert!(fence.is_none(), "README.md: a code fence is never closed");
    out
}

/// Split a command line into words as a POSIX shell would for the simple lines a README shows:
/// single quotes (literal), double quotes (`\"` and `\\` escaped), a backslash outside quotes,
/// a `#` that begins a word starts a comment, and an unquoted `|`, `;`, `&`, `<` or `>` ends
/// the command. Err for an unterminated quote.
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if !in_word => break,
            '|' | ';' | '&' | '<' | '>' => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => word.push(x),
                        None => return Err(format!("unterminated ' in: {line}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars.next().unwrap());
                        }
                        Some(x) => word.push(x),
                        None => return Err(format!("unterminated \" in: {line}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(x) = chars.next() {
                    word.push(x);
                }
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// The `autogan ...` command lines of the README's fenced blocks (an optional `$ ` prompt
/// before them), as (line number, the line, its words).
fn autogan_commands(text: &str) -> Vec<(usize, String, Vec<String>)> {
    fenced_lines(text)
        .into_iter()
        .filter_map(|(n, line)| {
            let t = line.trim_start();
            let t = t.strip_prefix("$ ").unwrap_or(t).trim_start();
            t.starts_with("autogan ").then(|| {
                let words = shell_words(t).unwrap_or_else(|e| panic!("README.md:{n}: {e}"));
                (n, t.trim_end().to_string(), words)
            })
        })
        .collect()
}

#[test]
fn every_autogan_command_in_a_code_block_parses() {
    let text = readme();
    let commands = autogan_commands(&text);
    // The README shows the whole first path and more: a handful is far too few (the
    // extraction itself would be broken).
    assert!(
        commands.len() >= 10,
        "only {} autogan command lines found in README.md's code blocks",
        commands.len()
    );
    let mut bad = Vec::new();
    for (n, line, words) in &commands {
        if let Err(e) = Cli::try_parse_from(words) {
            use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
            if !matches!(e.kind(), DisplayHelp | DisplayVersion) {
                bad.push(format!("README.md:{n}: {line}\n{}", e.render()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} autogan command lines in README.md do not parse:\n\n{}",
        bad.len(),
        commands.len(),
        bad.join("\n")
    );
}

/// The rows of the table under the README's `## Commands` heading.
fn command_table(text: &str) -> String {
    let mut rows = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            in_section = line.trim() == "## Commands";
            continue;
        }
        if in_section && line.trim_start().starts_with('|') {
            rows.push(line);
        }
    }
    assert!(
        !rows.is_empty(),
        "README.md has no table under a '## Commands' heading"
    );
    rows.join("\n")
}

#[test]
fn every_command_of_the_help_is_in_the_readme_table() {
    let table = command_table(&readme());
    let cli = Cli::command();
    let mut missing = Vec::new();
    let visible = |c: &&clap::Command| !c.is_hide_set() && c.get_name() != "help";
    for sub in cli.get_subcommands().filter(visible) {
        let name = format!("`autogan {}", sub.get_name());
        if !table.contains(&name) {
            missing.push(name.clone());
        }
        for nested in sub.get_subcommands().filter(visible) {
            let name = format!("`autogan {} {}", sub.get_name(), nested.get_name());
            if !table.contains(&name) {
                missing.push(name);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's command table (under '## Commands') does not name {}",
        missing.join(", ")
    );
}

#[test]
fn the_shell_splitter_reads_quotes_comments_and_continuations() {
    let w = |s: &str| shell_words(s).unwrap();
    assert_eq!(
        w(r#"autogan compare --search-args "--iterations 30 --ctrl-steps 10" --out 'runs/a b'"#),
        [
            "autogan",
            "compare",
            "--search-args",
            "--iterations 30 --ctrl-steps 10",
            "--out",
            "runs/a b"
        ]
    );
    assert_eq!(w("autogan doctor   # what it sees"), ["autogan", "doctor"]);
    assert_eq!(
        w("autogan doctor --json | jq ."),
        ["autogan", "doctor", "--json"]
    );
    assert_eq!(w(r#"autogan a\ b "x\"y""#), ["autogan", "a b", "x\"y"]);
    assert!(shell_words("autogan 'open").is_err());
    let lines =
        fenced_lines("text\n```sh\nautogan search \\\n    --preset quick\n```\nautogan x\n");
    assert_eq!(
        lines,
        [(3, "autogan search      --preset quick".to_string())]
    );
}

/// Every image the README shows (`![alt](path)`) is a file of the repository, so a moved or
/// renamed figure fails here instead of showing a broken image.
#[test]
fn every_image_of_the_readme_is_in_the_repository() {
    let text = readme();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for (i, _) in text.match_indices("![") {
        let rest = &text[i..];
        let open = rest.find("](").expect("an image link without its target");
        let close = rest[open..].find(')').expect("an unclosed image link") + open;
        let target = &rest[open + 2..close];
        if target.starts_with("http://") || target.starts_with("https://") {
            continue;
        }
        assert!(
            root.join(target).is_file(),
            "README shows {target}, which is not a file of the repository"
        );
        n += 1;
    }
    assert!(
        n >= 4,
        "the README's example figures are gone ({n} local images)"
    );
}
