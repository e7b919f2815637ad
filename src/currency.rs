//! Currency codes: billing currencies are ISO 4217 codes, upper case.
//!
//! A lower-case `usd` is the same currency as `USD` (and is counted as a
//! normalisation); a code that is not ISO 4217 is an error, so a typo never
//! becomes a currency of its own in every report.

/// ISO 4217 codes in use (list of 2024-06, SIX Financial Information), and
/// HRK, retired in 2023 but still in older exports.
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
    "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
    "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS",
    "XUA", "XXX", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// The ISO 4217 code `text` names, in upper case (`usd` -> `USD`), or `None`.
pub fn iso_4217(text: &str) -> Option<&'static str> {
    let text = text.trim();
    if text.len() != 3 {
        return None;
    }
    let upper = text.to_ascii_uppercase();
    CODES.binary_search(&upper.as_str()).ok().map(|i| CODES[i])
}

/// Whether a number written with `symbol` (`$`, `€`, `£`, `¥`) can be in `code`:
/// `$` for the dollars and pesos, `€` for the euro, `£` for the pounds, `¥` for yen and yuan.
pub fn symbol_fits(symbol: char, code: &str) -> bool {
    match symbol {
        '$' => code.ends_with('D') || ["MXN", "ARS", "CLP", "COP", "CUP", "DOP", "UYU", "BRL", "NIO"].contains(&code),
        '€' => code == "EUR",
        '£' => ["GBP", "EGP", "FKP", "GIP", "SHP", "SSP", "SYP", "LBP"].contains(&code),
        '¥' => ["JPY", "CNY"].contains(&code),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_iso_4217_in_upper_case() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]), "sorted, for binary search");
        assert_eq!(iso_4217("usd"), Some("USD"));
        assert_eq!(iso_4217(" Eur "), Some("EUR"));
        assert_eq!(iso_4217("NOK"), Some("NOK"));
        assert_eq!(iso_4217("US$"), None);
        assert_eq!(iso_4217("XYZ"), None);
        assert_eq!(iso_4217("dollars"), None);
    }

    #[test]
    fn symbols_fit_their_currencies() {
        assert!(symbol_fits('$', "USD") && symbol_fits('$', "CAD") && symbol_fits('$', "MXN"));
        assert!(!symbol_fits('€', "USD") && symbol_fits('€', "EUR"));
        assert!(!symbol_fits('$', "EUR") && !symbol_fits('£', "USD") && symbol_fits('¥', "JPY"));
    }
}
