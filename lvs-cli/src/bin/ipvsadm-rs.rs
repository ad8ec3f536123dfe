//! `ipvsadm-rs`: a drop-in ipvsadm 1.31 over lvs-ipvs. See `lvs_ipvsadm`.

fn main() {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "ipvsadm".to_owned());
    let words: Vec<String> = args.collect();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let stderr = std::io::stderr();
    let mut err = stderr.lock();
    let status = lvs_ipvsadm::run(
        &program,
        &words,
        &mut lvs_ipvsadm::Io {
            input: &mut input,
            out: &mut out,
            err: &mut err,
        },
    );
    use std::io::Write;
    let _ = out.flush();
    std::process::exit(status);
}
