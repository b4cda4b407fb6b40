//! The ceiling of an export (BENCHMARKS.md, "CSV"): the same rows written with the csv
//! crate alone. Reads a CSV file into memory (not timed), then writes every record to the
//! output file and prints the seconds the writing took.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (input, output) = (&args[1], &args[2]);
    let mut r = csv::Reader::from_path(input).expect("input");
    let header = r.byte_headers().expect("header").clone();
    let rows: Vec<csv::ByteRecord> = r.byte_records().map(|x| x.expect("row")).collect();
    let start = Instant::now();
    let file = std::fs::File::create(output).expect("output");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(std::io::BufWriter::new(file));
    w.write_byte_record(&header).expect("write");
    for row in &rows {
        w.write_byte_record(row).expect("write");
    }
    w.flush().expect("flush");
    println!("{:.3}", start.elapsed().as_secs_f64());
}
