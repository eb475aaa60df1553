use arclamp::sample::{parse_line, Limits};
use arclamp::stacks::StackTable;
use arclamp::synth::Generator;
use std::hash::BuildHasher;
use std::time::Instant;
fn main() {
    let mut g = Generator::new(1);
    let input: Vec<Vec<u8>> = (0..50_000)
        .map(|_| {
            let mut l = Vec::new();
            g.next_sample(&mut l);
            l
        })
        .collect();
    let limits = Limits::default();
    let stacks: Vec<&[u8]> = input
        .iter()
        .map(|m| parse_line(m, &limits).unwrap().stack)
        .collect();
    let h = foldhash::fast::RandomState::default();
    for _ in 0..2 {
        let t = Instant::now();
        let mut n = 0u64;
        for s in &stacks {
            n = n.wrapping_add(h.hash_one(s));
        }
        println!("foldhash {:?} {n}", t.elapsed());
        let mut table = StackTable::new();
        let t = Instant::now();
        for s in &stacks {
            table.intern(s);
        }
        println!("intern cold {:?} distinct {}", t.elapsed(), table.len());
        let t = Instant::now();
        for s in &stacks {
            table.intern(s);
        }
        println!("intern warm {:?}", t.elapsed());
    }
}
