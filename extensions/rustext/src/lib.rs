//! `rustext`: a deliberately small PyO3 module used as a pyhost test fixture.
//!
//! PyO3 remembers the first interpreter that initialised the module and
//! raises `ImportError("PyO3 modules do not yet support subinterpreters")`
//! in any other one; pyhost's tests rely on exactly that, so nothing here
//! tries to avoid it.

use pyo3::prelude::*;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bit: deterministic across runs, platforms and interpreters.
fn fnv1a64(data: &[u8]) -> u64 {
    data.iter()
        .fold(FNV_OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// digest(data: bytes) -> str: the FNV-1a 64-bit hash of data, 16 hex digits.
#[pyfunction]
fn digest(data: &[u8]) -> String {
    format!("{:016x}", fnv1a64(data))
}

/// version() -> str: this crate's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn rustext(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(digest, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fnv1a64;

    #[test]
    fn known_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
