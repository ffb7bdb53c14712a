//! What the commands print: JSON on stdout, a secret shown once first.

/// Writes `text` and a newline to stdout, returning any error (`println!` panics).
pub(super) fn write_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// `view` with `id_field` and then `secret_field` first, where a person looks: a
/// secret shown once is not to be buried among a dozen fields.
pub(super) fn with_secret_first(
    view: serde_json::Value,
    id_field: &str,
    secret_field: &str,
    secret: &str,
) -> serde_json::Value {
    let mut ordered = serde_json::Map::new();
    let serde_json::Value::Object(mut rest) = view else {
        return view;
    };
    if let Some(id) = rest.remove(id_field) {
        ordered.insert(id_field.to_owned(), id);
    }
    ordered.insert(secret_field.to_owned(), secret.into());
    ordered.extend(rest);
    serde_json::Value::Object(ordered)
}
