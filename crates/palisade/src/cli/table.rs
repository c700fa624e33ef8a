//! Plain-text tables for the CLI's listings (`keys list`, `audit search`, …): a header
//! of upper-cased column names, then one line per row, columns padded to their widest
//! cell (in characters), two spaces apart, no trailing blanks.

/// Prints `rows` (cells in `columns` order) under a header.
pub fn print(columns: &[&str], rows: &[Vec<String>]) {
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| cell.chars().count())
                .chain([c.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let header: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    println!("{}", line(&header));
    for r in rows {
        println!("{}", line(r));
    }
}
