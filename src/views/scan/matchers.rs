//! What a scan looks for: literal and regex IOCs (`--string`, `--regex`, `--ioc-file`) and
//! YARA-X rules (`--rules`, with the `yara` feature), and one thread's scanner running them over
//! a window.

use super::{OVERLAP, Request};
use crate::model::memory::search::Pattern;
use crate::views::Error;
use crate::warning::Warnings;

/// One literal or regex IOC.
pub struct Ioc {
    /// `string` or `regex`: the finding's rule.
    pub kind: &'static str,
    /// The IOC as given: the finding's string.
    pub text: String,
    pub pattern: Pattern,
}

/// What a scan looks for: IOCs and YARA rules (when built with the `yara` feature).
pub struct Matchers {
    pub iocs: Vec<Ioc>,
    #[cfg(feature = "yara")]
    pub rules: Option<yara_x::Rules>,
}

impl Matchers {
    /// The IOCs of a request (`--string`, `--regex`, `--ioc-file`); a bad one is an error naming
    /// it.
    pub fn from_request(args: &Request) -> Result<Matchers, Error> {
        let mut iocs = Vec::new();
        for s in &args.strings {
            iocs.push(ioc_string(s).map_err(|e| Error::input(format!("--string {s:?}: {e}")))?);
        }
        for r in &args.regexes {
            iocs.push(ioc_regex(r).map_err(|e| Error::input(format!("--regex {r:?}: {e}")))?);
        }
        for f in &args.ioc_files {
            let text = std::fs::read(f)
                .map_err(|e| Error::input(format!("{}: cannot read: {e}", f.display())))?;
            let text = String::from_utf8_lossy(&text);
            for (i, line) in text.lines().enumerate() {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if line.trim().is_empty() || line.starts_with('#') {
                    continue;
                }
                let r = if let Some(re) = line.strip_prefix("re:") {
                    ioc_regex(re)
                } else {
                    ioc_string(line.strip_prefix("str:").unwrap_or(line))
                };
                iocs.push(r.map_err(|e| Error::input(format!("{}:{}: {e}", f.display(), i + 1)))?);
            }
        }
        #[cfg(feature = "yara")]
        let rules = yara::compile(&args.rules)?;
        #[cfg(feature = "yara")]
        let have_rules = rules.is_some();
        #[cfg(not(feature = "yara"))]
        let have_rules = if args.rules.is_empty() {
            false
        } else {
            return Err(Error::input(
                "--rules: this ckptfs was built without YARA support (the `yara` cargo feature)",
            ));
        };
        if iocs.is_empty() && !have_rules {
            return Err(Error::input(
                "nothing to look for: give --rules, --string, --regex or --ioc-file",
            ));
        }
        Ok(Matchers {
            iocs,
            #[cfg(feature = "yara")]
            rules,
        })
    }

    /// True when memory can be searched in its dumped bytes alone, the holes skipped: no YARA
    /// rules (their conditions and offsets see the window, zeros included) and every IOC
    /// [`Pattern::skips_zeros`] (a literal no longer than [`OVERLAP`]). Then no match lies in a
    /// hole or crosses one, and the matches, addresses and contexts are those of the window
    /// search with the holes as zeros (test `dumped_bytes_alone_find_what_the_windows_find`).
    pub(super) fn dumped_only(&self) -> bool {
        #[cfg(feature = "yara")]
        if self.rules.is_some() {
            return false;
        }
        self.iocs.iter().all(|i| {
            i.pattern.skips_zeros()
                && match &i.pattern {
                    Pattern::Literal(f) => f.needle().len() as u64 <= OVERLAP,
                    Pattern::Regex(_) => true,
                }
        })
    }

    pub(super) fn scanner(&self) -> Scanner<'_> {
        Scanner {
            m: self,
            dumped_only: self.dumped_only(),
            #[cfg(feature = "yara")]
            yara: self.rules.as_ref().map(|r| {
                let mut s = yara_x::Scanner::new(r);
                s.max_matches_per_pattern(yara::MAX_MATCHES);
                s
            }),
        }
    }
}

pub(super) fn ioc_string(s: &str) -> Result<Ioc, String> {
    Ok(Ioc {
        kind: "string",
        text: s.to_string(),
        pattern: Pattern::literal(s.as_bytes())?,
    })
}

pub(super) fn ioc_regex(s: &str) -> Result<Ioc, String> {
    Ok(Ioc {
        kind: "regex",
        text: s.to_string(),
        pattern: Pattern::regex(s)?,
    })
}

/// One thread's scanner.
pub(super) struct Scanner<'m> {
    pub m: &'m Matchers,
    /// [`Matchers::dumped_only`].
    pub dumped_only: bool,
    #[cfg(feature = "yara")]
    yara: Option<yara_x::Scanner<'m>>,
}

/// A match in a window: rule, string, offset in the window buffer, length.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Hit {
    pub rule: String,
    pub string: String,
    pub off: usize,
    pub len: usize,
}

impl Scanner<'_> {
    /// Every match in `buf` that starts at or after `from` and before `to`. A YARA rule that
    /// matches without a string match (a condition on something else) is a hit of length 0 at
    /// `from`. Scan errors (a rule's timeout) go to `warnings`.
    pub(super) fn scan(
        &mut self,
        buf: &[u8],
        from: usize,
        to: usize,
        out: &mut Vec<Hit>,
        warnings: &mut Warnings,
    ) {
        #[cfg(feature = "yara")]
        if let Some(y) = &mut self.yara {
            yara::scan(y, buf, from, to, out, warnings);
        }
        #[cfg(not(feature = "yara"))]
        let _ = warnings;
        for ioc in &self.m.iocs {
            match &ioc.pattern {
                Pattern::Literal(f) => {
                    let mut p = from;
                    while p < to {
                        let Some(i) = f.find(&buf[p..]) else { break };
                        if p + i >= to {
                            break;
                        }
                        out.push(Hit {
                            rule: ioc.kind.into(),
                            string: ioc.text.clone(),
                            off: p + i,
                            len: f.needle().len(),
                        });
                        p += i + 1;
                    }
                }
                Pattern::Regex(re) => {
                    let mut at = from;
                    while at <= buf.len() {
                        let Some(m) = re.find_at(buf, at) else { break };
                        if m.start() >= to {
                            break;
                        }
                        if m.is_empty() {
                            at = m.end() + 1;
                            continue;
                        }
                        out.push(Hit {
                            rule: ioc.kind.into(),
                            string: ioc.text.clone(),
                            off: m.start(),
                            len: m.len(),
                        });
                        at = m.end();
                    }
                }
            }
        }
    }
}

#[cfg(feature = "yara")]
mod yara {
    //! YARA-X: compiling `--rules` and running them over a window.

    use std::path::{Path, PathBuf};

    use super::{Error, Hit};
    use crate::warning::{Kind, Warnings};

    /// Matches kept per string and window (YARA-X's default is a million).
    pub const MAX_MATCHES: usize = 10_000;
    /// What `Rules::serialize` writes first (`yr compile` output).
    const COMPILED_MAGIC: &[u8] = b"YARA-X\0\0";

    /// The rules of `paths` (rule files, directories of `*.yar` / `*.yara`, or one file of
    /// compiled rules), compiled once; None without paths. Compiler errors are printed on
    /// stderr, one line each (`FILE:LINE:COLUMN: error[...]: ...`), and fail the whole run.
    pub fn compile(paths: &[PathBuf]) -> Result<Option<yara_x::Rules>, Error> {
        if paths.is_empty() {
            return Ok(None);
        }
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| Error::input(format!("{}: cannot read: {e}", p.display())))
        };
        if let [p] = paths
            && p.is_file()
        {
            let b = read(p)?;
            if b.starts_with(COMPILED_MAGIC) {
                return yara_x::Rules::deserialize(&b)
                    .map(Some)
                    .map_err(|e| Error::input(format!("{}: compiled rules: {e}", p.display())));
            }
        }
        let mut files = Vec::new();
        for p in paths {
            if p.is_dir() {
                rule_files(p, 0, &mut files)?;
                continue;
            }
            if !p.exists() {
                return Err(Error::input(format!("{}: no such rules file", p.display())));
            }
            files.push(p.clone());
        }
        if files.is_empty() {
            return Err(Error::input("--rules: no .yar or .yara file found"));
        }
        let mut texts = Vec::with_capacity(files.len());
        for f in &files {
            texts.push((f.display().to_string(), read(f)?));
        }
        let mut c = yara_x::Compiler::new();
        c.colorize_errors(false);
        for (name, text) in &texts {
            // Errors are collected by the compiler; all of them are shown below.
            let _ = c.add_source(yara_x::SourceCode::from(text.as_slice()).with_origin(name));
        }
        let errors = c.errors();
        if !errors.is_empty() {
            for e in errors {
                eprintln!("ckptfs: {}", one_line(&e.to_string()));
            }
            return Err(Error::input(format!(
                "{} error(s) in the rules; nothing scanned",
                errors.len()
            )));
        }
        Ok(Some(c.build()))
    }

    /// A compiler report (title, `--> file:line:col`, the source excerpt with a caret line) as
    /// one line: `file:line:col: title: what the caret says`.
    pub fn one_line(report: &str) -> String {
        let mut lines = report.lines();
        let title = lines.next().unwrap_or("").trim().to_string();
        let mut at = None;
        let mut note = None;
        for l in lines {
            let t = l.trim_start();
            if let Some(loc) = t.strip_prefix("--> ") {
                at.get_or_insert_with(|| loc.trim().to_string());
            } else if let Some(i) = t.find('^') {
                let text = t[i..].trim_start_matches(['^', '-', ' ']).trim();
                if !text.is_empty() {
                    note.get_or_insert_with(|| text.to_string());
                }
            }
        }
        let mut s = match at {
            Some(a) => format!("{a}: {title}"),
            None => title,
        };
        if let Some(n) = note {
            s.push_str(": ");
            s.push_str(&n);
        }
        crate::format::escape(&s).into_owned()
    }

    fn rule_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), Error> {
        let rd = std::fs::read_dir(dir)
            .map_err(|e| Error::input(format!("{}: cannot list: {e}", dir.display())))?;
        let mut v: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
        v.sort();
        for p in v {
            if p.is_dir() {
                if depth < 8 {
                    rule_files(&p, depth + 1, out)?;
                }
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yar" | "yara")) {
                out.push(p);
            }
        }
        Ok(())
    }

    /// Runs the rules over `buf`; hits starting in `from..to` (see `Scanner::scan`).
    pub fn scan(
        y: &mut yara_x::Scanner<'_>,
        buf: &[u8],
        from: usize,
        to: usize,
        out: &mut Vec<Hit>,
        warnings: &mut Warnings,
    ) {
        let res = match y.scan(buf) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(Kind::RuleError, format!("YARA: {e}"));
                return;
            }
        };
        for r in res.matching_rules() {
            let rule = match r.namespace() {
                "default" => r.identifier().to_string(),
                ns => format!("{ns}:{}", r.identifier()),
            };
            let mut any = false;
            for p in r.patterns() {
                for m in p.matches() {
                    any = true;
                    let range = m.range();
                    if range.start >= from && range.start < to {
                        out.push(Hit {
                            rule: rule.clone(),
                            string: p.identifier().to_string(),
                            off: range.start,
                            len: range.len(),
                        });
                    }
                }
            }
            if !any {
                out.push(Hit {
                    rule,
                    string: String::new(),
                    off: from,
                    len: 0,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--rules` takes compiled rules (`Rules::serialize`, what `yr compile` writes) as well as
    /// sources; a compiler report becomes one line with its place.
    #[cfg(feature = "yara")]
    #[test]
    fn compiled_rules_and_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let src = "rule r { strings: $a = \"KEY\" condition: $a }";
        let compiled = yara_x::compile(src).unwrap().serialize().unwrap();
        let f = dir.path().join("rules.yarc");
        std::fs::write(&f, &compiled).unwrap();
        let rules = yara::compile(&[f]).unwrap().unwrap();
        let m = Matchers {
            iocs: Vec::new(),
            rules: Some(rules),
        };
        let mut out = Vec::new();
        m.scanner()
            .scan(b"..KEY..KEY", 0, 10, &mut out, &mut Warnings::new());
        let got: Vec<(&str, &str, usize)> = out
            .iter()
            .map(|h| (h.rule.as_str(), h.string.as_str(), h.off))
            .collect();
        assert_eq!(got, vec![("r", "$a", 2), ("r", "$a", 7)]);
        let report = "error[E009]: unknown identifier `foo`\n --> r.yar:9:21\n  |\n9 | rule x { condition: foo }\n  |                     ^^^ this identifier has not been declared\n";
        assert_eq!(
            yara::one_line(report),
            "r.yar:9:21: error[E009]: unknown identifier `foo`: this identifier has not been declared"
        );
    }

    /// Which patterns may skip the holes: none that can match a zero byte or looks around.
    #[test]
    fn patterns_that_skip_zeros() {
        for (p, want) in [
            (Pattern::literal(b"KEY").unwrap(), true),
            (Pattern::literal(b"K\0Y").unwrap(), false),
            (Pattern::regex("AB+A").unwrap(), true),
            (Pattern::regex("(?i)key-[0-9a-f]{4,}").unwrap(), true),
            (Pattern::regex("A[^\n\x00]*B").unwrap(), true),
            (Pattern::regex("(A|AB)(x|BA)?").unwrap(), true),
            (Pattern::regex("A[^\n]*B").unwrap(), false),
            (Pattern::regex("A.B").unwrap(), false),
            (Pattern::regex("(?s-u).").unwrap(), false),
            (Pattern::regex("A\\x00").unwrap(), false),
            (Pattern::regex("A[\\x00-\\x20]").unwrap(), false),
            (Pattern::regex("\\bAB").unwrap(), false),
            (Pattern::regex("^AB|B$").unwrap(), false),
            (Pattern::regex("\\W").unwrap(), false),
        ] {
            let name = match &p {
                Pattern::Literal(f) => format!("{:?}", f.needle()),
                Pattern::Regex(re) => re.as_str().to_string(),
            };
            assert_eq!(p.skips_zeros(), want, "{name}");
        }
    }

    #[test]
    fn literal_and_regex_in_a_window_range() {
        let m = Matchers {
            iocs: vec![ioc_string("aa").unwrap(), ioc_regex("b+").unwrap()],
            #[cfg(feature = "yara")]
            rules: None,
        };
        let mut sc = m.scanner();
        let mut out = Vec::new();
        //           0123456789
        sc.scan(b"aaaxbbbxaa", 1, 9, &mut out, &mut Warnings::new());
        let got: Vec<(&str, usize, usize)> = out
            .iter()
            .map(|h| (h.rule.as_str(), h.off, h.len))
            .collect();
        assert_eq!(
            got,
            vec![("string", 1, 2), ("string", 8, 2), ("regex", 4, 3)]
        );
    }

    #[test]
    fn iocs_from_a_file_and_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("iocs.txt");
        std::fs::write(
            &f,
            "# comment\n\nPGHOLD\nre:sk_live_[0-9a-z]+\nstr:re:x\r\n",
        )
        .unwrap();
        let args = Request {
            ioc_files: vec![f.clone()],
            strings: vec!["X".into()],
            ..Default::default()
        };
        let m = Matchers::from_request(&args).unwrap();
        let got: Vec<(&str, &str)> = m.iocs.iter().map(|i| (i.kind, i.text.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("string", "X"),
                ("string", "PGHOLD"),
                ("regex", "sk_live_[0-9a-z]+"),
                ("string", "re:x")
            ]
        );
        std::fs::write(&f, "ok\nre:a(\n").unwrap();
        let e = Matchers::from_request(&args).err().unwrap().to_string();
        assert!(e.contains("iocs.txt:2: invalid regular expression"), "{e}");
        let e = Matchers::from_request(&Request::default())
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("nothing to look for"), "{e}");
    }
}
