//! The fuzz targets' committed inputs, replayed through the same entry points
//! (`socktrace::fuzzing`): every crash the fuzzer found stays fixed (`fuzz/regressions/`),
//! and the corpus it grew (`fuzz/corpus/`) keeps running without a panic.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["regressions", "corpus"]
        .iter()
        .filter_map(|dir| std::fs::read_dir(root.join(dir).join(target)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for the fuzz target {target} (fuzz/corpus/{target}/)");
    for path in files {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run(&data);
    }
}

#[test]
fn trace_reader_inputs() {
    replay("trace_reader", |data| {
        socktrace::fuzzing::read_trace(data);
    });
}

#[test]
fn packet_decoder_inputs() {
    replay("packet_decoder", socktrace::fuzzing::decode_frame);
}

#[test]
fn snapshot_diff_inputs() {
    replay("snapshot_diff", socktrace::fuzzing::snapshot_and_diff);
}

#[test]
fn capture_reader_inputs() {
    replay("capture_reader", socktrace::fuzzing::read_capture);
}

#[test]
fn replay_inputs() {
    replay("replay", socktrace::fuzzing::replay);
}

#[test]
fn export_inputs() {
    replay("export", socktrace::fuzzing::export);
}
