//! The parallel heart of every command: a reader thread frames the input
//! into chunks, rayon workers turn each chunk into some result `T` (JSON
//! text, detector events, COPY rows), and the calling thread consumes the
//! results strictly in input order.
//!
//! Chunks in flight (read, being worked on, or waiting to be consumed) are
//! bounded by a budget of tokens: a chunk costs one token per started
//! [`CHUNK_SIZE`] of its data (a chunk that holds one 8 MiB line costs 8),
//! so the bytes in flight stay under about `max_in_flight` MiB whatever the
//! input, and a slow consumer (a database) slows the reader instead of
//! piling up.

use crate::source::{Chunk, Framer, CHUNK_SIZE};
use std::collections::BTreeMap;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;

enum Msg<T> {
    Data(T),
    End,
    Failed(io::Error),
}

/// How many chunks may be in flight: enough to keep every worker busy while
/// the consumer works on the oldest.
pub fn default_in_flight() -> usize {
    4 * rayon::current_num_threads() + 4
}

/// Runs `work` over every chunk of `framer` in parallel and feeds the results
/// to `consume` in order. `consume` returns `Ok(false)` to stop early. A read
/// error ends the run with that error after the chunks before it were
/// consumed.
pub fn run<T, W, C>(
    framer: Box<dyn Framer>,
    work: Arc<W>,
    mut consume: C,
) -> anyhow::Result<Box<dyn Framer>>
where
    T: Send + 'static,
    W: Fn(Chunk) -> T + Send + Sync + 'static,
    C: FnMut(T) -> anyhow::Result<bool>,
{
    let max = default_in_flight();
    let (res_tx, res_rx) = mpsc::channel::<(u64, usize, Msg<T>)>();
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(max);
    for _ in 0..max {
        token_tx.send(()).expect("the receiver is alive");
    }
    let reader = std::thread::Builder::new().name("logtrack-reader".into()).spawn(move || {
        let mut framer = framer;
        let mut seq = 0u64;
        'read: while token_rx.recv().is_ok() {
            match framer.next_chunk() {
                Ok(Some(chunk)) => {
                    // A big chunk waits for the tokens its size costs.
                    let cost = chunk.data.len().div_ceil(CHUNK_SIZE).clamp(1, max);
                    for _ in 1..cost {
                        if token_rx.recv().is_err() {
                            break 'read;
                        }
                    }
                    let tx = res_tx.clone();
                    let work = Arc::clone(&work);
                    let s = seq;
                    rayon::spawn(move || {
                        let out = work(chunk);
                        let _ = tx.send((s, cost, Msg::Data(out)));
                    });
                }
                Ok(None) => {
                    let _ = res_tx.send((seq, 1, Msg::End));
                    break;
                }
                Err(e) => {
                    let _ = res_tx.send((seq, 1, Msg::Failed(e)));
                    break;
                }
            }
            seq += 1;
        }
        framer
    })?;

    let mut pending: BTreeMap<u64, (usize, Msg<T>)> = BTreeMap::new();
    let mut expected = 0u64;
    let outcome = 'outer: loop {
        while let Some((cost, msg)) = pending.remove(&expected) {
            match msg {
                Msg::Data(t) => match consume(t) {
                    Ok(true) => {
                        for _ in 0..cost {
                            let _ = token_tx.send(());
                        }
                        expected += 1;
                    }
                    Ok(false) => break 'outer Ok(()),
                    Err(e) => break 'outer Err(e),
                },
                Msg::End => break 'outer Ok(()),
                Msg::Failed(e) => break 'outer Err(anyhow::Error::new(e)),
            }
        }
        match res_rx.recv() {
            Ok((seq, cost, msg)) => {
                pending.insert(seq, (cost, msg));
            }
            Err(_) => break Err(anyhow::anyhow!("the reader thread stopped unexpectedly")),
        }
    };
    drop(token_tx);
    drop(res_rx);
    match outcome {
        Ok(()) => match reader.join() {
            Ok(framer) => Ok(framer),
            Err(_) => Err(anyhow::anyhow!("the reader thread panicked")),
        },
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::lines::LineFramer;

    #[test]
    fn results_come_back_in_input_order() {
        let input: String = (1..=5000).map(|i| format!("line {i}\n")).collect();
        let framer = Box::new(LineFramer::new(std::io::Cursor::new(input.into_bytes()), 97));
        let work = Arc::new(|c: Chunk| {
            let mut v = Vec::new();
            c.for_each_unit(|l, p| v.push((p.line, String::from_utf8_lossy(l).into_owned())));
            v
        });
        let mut all = Vec::new();
        run(framer, work, |v| {
            all.extend(v);
            Ok(true)
        })
        .unwrap();
        assert_eq!(all.len(), 5000);
        for (i, (no, text)) in all.iter().enumerate() {
            assert_eq!(*no, i as u64 + 1);
            assert_eq!(text, &format!("line {}", i + 1));
        }
    }

    #[test]
    fn chunks_bigger_than_the_budget_still_flow() {
        // Each chunk costs more tokens than exist: it waits for all of them.
        let big = CHUNK_SIZE * (default_in_flight() + 3);
        let input = "y".repeat(CHUNK_SIZE - 1) + "\n";
        let input = input.repeat(big / CHUNK_SIZE * 3);
        let framer = Box::new(LineFramer::new(std::io::Cursor::new(input.into_bytes()), big));
        let mut lines = 0;
        run(framer, Arc::new(|c: Chunk| super::super::source::lines::count_lines(&c.data)), |n| {
            lines += n;
            Ok(true)
        })
        .unwrap();
        assert_eq!(lines as usize, big / CHUNK_SIZE * 3);
    }

    #[test]
    fn consumer_can_stop_early() {
        let input = "x\n".repeat(10_000);
        let framer = Box::new(LineFramer::new(std::io::Cursor::new(input.into_bytes()), 64));
        let mut seen = 0;
        run(framer, Arc::new(|c: Chunk| c.data.len()), |_| {
            seen += 1;
            Ok(seen < 3)
        })
        .unwrap();
        assert_eq!(seen, 3);
    }
}
