//! The ceiling of an export (BENCHMARKS.md, "CSV"): the same rows written with the csv
//! crate alone. Reads a CSV file into memory (not timed), then writes every record to the
//! output file and prints the seconds the writing took. With a third argument, the writer's
//! buffer holds that many bytes instead of the csv crate's default 8 KiB (the stricter
//! ceiling: about as few `write` calls as the export makes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let buffer: usize = args
        .get(3)
        .map_or(8 * 1024, |b| b.parse().expect("buffer bytes"));
    let mut r = csv::Reader::from_path(input).expect("input");
    let header = r.byte_headers().expect("header").clone();
    let rows: Vec<csv::ByteRecord> = r.byte_records().map(|x| x.expect("row")).collect();
    let start = Instant::now();
    let file = std::fs::File::create(output).expect("output");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .buffer_capacity(buffer)
        .from_writer(file);
    w.write_byte_record(&header).expect("write");
    for row in &rows {
        w.write_byte_record(row).expect("write");
    }
    w.flush().expect("flush");
    println!("{:.3}", start.elapsed().as_secs_f64());
}
