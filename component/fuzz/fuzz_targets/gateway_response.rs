//! Fuzzes the reading of etcd's v3 JSON gateway answers: the range-response parser, the
//! paging and continuation logic around it, authentication and error answers, the building
//! of an inventory from whatever keys arrive, and the cache check.
//!
//! Input: one option byte, then the answers the fake etcd gives, in order, separated by
//! the byte 0x1E. An answer `NNN body` (three digits and a space) has HTTP status NNN;
//! `!reason` is a transport failure (no answer); anything else is a 200 with that body.
//! When the answers run out, the transport fails. Option bits: 0-2 page size - 1; 3 log
//! in as a user; 4 two endpoints; 5 stream into an inventory builder (as `--list`) rather
//! than collect a snapshot (as `--host`); 6 then check the read's stamp with the answers
//! left (as the `--list` cache does).

#![no_main]

use libfuzzer_sys::fuzz_target;

use etcd_gateway::{AUTHENTICATE_PATH, Gateway, HttpResponse, RANGE_PATH, RangeRequest, HttpPost};
use etcd_inventory::etcd;
use etcd_inventory::inventory::{Builder, Kv};
use etcd_inventory::layout::Prefix;
use etcd_inventory::settings::Credentials;
use etcd_inventory::values::ValueRules;

const SEPARATOR: u8 = 0x1e;

struct Scripted<'a> {
    answers: std::slice::Split<'a, u8, fn(&u8) -> bool>,
    requests: usize,
}

impl HttpPost for Scripted<'_> {
    fn post_json(&mut self, _: &str, path: &str, body: &[u8], _: Option<&str>) -> Result<HttpResponse, String> {
        self.requests += 1;
        // Every request the reader makes is one the gateway accepts.
        match path {
            RANGE_PATH => {
                let request: RangeRequest = serde_json::from_slice(body).expect("a range request");
                if let Some(limit) = &request.limit {
                    // 0 would mean "no limit" to etcd.
                    let limit: u32 = limit.parse().expect("a limit is a number");
                    assert!(limit >= 1, "a page limit of 0 reads the whole range");
                }
                if let Some(revision) = &request.revision {
                    revision.parse::<i64>().expect("a revision is a number");
                }
                if let Some(revision) = &request.min_mod_revision {
                    revision.parse::<i64>().expect("a min_mod_revision is a number");
                }
            }
            AUTHENTICATE_PATH => {}
            other => panic!("unexpected path {other}"),
        }
        let Some(answer) = self.answers.next() else {
            return Err("no more answers".to_string());
        };
        if let Some(reason) = answer.strip_prefix(b"!") {
            return Err(String::from_utf8_lossy(reason).into_owned());
        }
        let status = match answer {
            [a, b, c, b' ', ..] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
                Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
            }
            _ => None,
        };
        Ok(match status {
            Some(status) => HttpResponse {
                status,
                body: answer[4..].to_vec(),
            },
            None => HttpResponse {
                status: 200,
                body: answer.to_vec(),
            },
        })
    }

    fn pause(&mut self, _: u32) {}
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, answers)) = data.split_first() else {
        return;
    };
    let page_size = u32::from(options & 7) + 1;
    let credentials = Credentials {
        user: "alice".into(),
        password: "secret".into(),
    };
    let credentials = (options & 8 != 0).then_some(&credentials);
    let endpoints: &[String] = if options & 16 != 0 {
        &["http://e1:2379".to_string(), "http://e2:2379".to_string()]
    } else {
        &["http://e1:2379".to_string()]
    };
    let is_separator: fn(&u8) -> bool = |b| *b == SEPARATOR;
    let mut transport = Scripted {
        answers: answers.split(is_separator),
        requests: 0,
    };
    let prefix = Prefix::new("/ansible");
    let range = prefix.range();

    let Ok(mut gateway) = Gateway::connect(&mut transport, endpoints, credentials.cloned()) else {
        return;
    };
    let read = if options & 32 != 0 {
        let rules = ValueRules {
            trust_templates: false,
            typed_values: true,
            nested_keys: true,
        };
        let mut builder = Builder::new(&prefix, &rules);
        let read = etcd::read_into(&mut gateway, &range, page_size, &mut builder);
        if read.is_ok()
            && let Ok(built) = builder.finish()
        {
            let json = serde_json::to_string(&built.value).expect("an inventory serialises");
            serde_json::from_str::<serde_json::Value>(&json).expect("the inventory is JSON");
        }
        read
    } else {
        let mut kvs: Vec<Kv> = Vec::new();
        let read = etcd::read_into(&mut gateway, &range, page_size, &mut kvs);
        if let Ok(read) = &read {
            assert_eq!(read.keys, kvs.len() as u64, "every key counted once");
        }
        read
    };
    let Ok(read) = read else { return };
    if options & 64 != 0 {
        let _ = etcd::unchanged_since(&mut gateway, &range, read.revision, read.keys);
    }
});
