//! The stepped (closed-loop) simulator: all orders advance one bin per
//! `step`, so that a strategy sees its fills before choosing the next bin's
//! fractions. It runs [`bin_step`], like the batch call, so stepping a
//! schedule column by column gives the batch results bit for bit.
//!
//! Memory: the constructor copies price and volume transposed to time-major
//! [horizon, batch] (a step then reads two contiguous columns) and keeps one
//! `OrderState` (~100 B) per order; fills are kept time-major and transposed
//! by `finish`. Each step is threaded over orders. CPU only.

use rayon::prelude::*;

use super::cpu::{bin_step, check_order, chunks, diagnose_rows, row_ok, write_order, BinParams, Chunk, OrderConst, OrderState};
use super::{check_input_shapes, check_out_shapes, FillInputs, FillOut, FillOutputs, FillParams, CHUNK};
use crate::error::{CoreError, CoreResult};

/// Orders per work item when transposing.
const T_CHUNK: usize = 4096;

pub struct FillSimulator {
    batch: usize,
    horizon: usize,
    k: BinParams,
    /// [horizon, batch]
    price: Vec<f64>,
    /// [horizon, batch]
    volume: Vec<f64>,
    consts: Vec<OrderConst>,
    /// [batch], NaN when no arrival price was given.
    arrival: Vec<f64>,
    states: Vec<OrderState>,
    /// [horizon, batch]
    filled: Vec<f64>,
    /// [horizon, batch]
    fill_price: Vec<f64>,
    /// Bins simulated so far.
    bin: usize,
}

impl FillSimulator {
    /// Check everything (parameters, shapes, then per order its inputs and
    /// its price and volume rows; the lowest failing order is reported) and
    /// copy what the steps need.
    pub fn new(i: &FillInputs, params: &FillParams) -> CoreResult<Self> {
        params.check()?;
        let n = check_input_shapes(i)?;
        let (batch, h) = (i.batch, i.horizon);
        let k = BinParams::of(params);
        let mut consts = vec![OrderConst::default(); batch];
        let mut arrival = vec![f64::NAN; batch];
        let checks: Vec<CoreResult<()>> = crate::pool::install(|| {
            consts
                .par_chunks_mut(CHUNK)
                .zip(arrival.par_chunks_mut(CHUNK))
                .enumerate()
                .map(|(ci, (cs, ar))| {
                    for (r, (c, a)) in cs.iter_mut().zip(ar.iter_mut()).enumerate() {
                        let b = ci * CHUNK + r;
                        check_order(i, b)?;
                        let span = b * h..(b + 1) * h;
                        let (p, v) = (&i.price[span.clone()], &i.volume[span]);
                        if !row_ok(p, v, None) {
                            if let Some(e) = diagnose_rows(b, h, p, v, None) {
                                return Err(e);
                            }
                        }
                        *c = OrderConst::of(i, params, b);
                        *a = i.arrival_price.map_or(f64::NAN, |x| x[b]);
                    }
                    Ok(())
                })
                .collect()
        });
        checks.into_iter().collect::<CoreResult<()>>()?;
        let price = transpose(i.price, batch, h)?;
        let volume = transpose(i.volume, batch, h)?;
        let mut filled = crate::buffer::zeroed_vec::<f64>("batch", n)?;
        let mut fill_price = crate::buffer::zeroed_vec::<f64>("batch", n)?;
        // Not-yet-simulated bins read as "nothing filled".
        crate::pool::install(|| fill_price.par_chunks_mut(1 << 16).for_each(|c| c.fill(f64::NAN)));
        filled.shrink_to_fit();
        Ok(FillSimulator {
            batch,
            horizon: h,
            k,
            price,
            volume,
            consts,
            arrival,
            states: vec![OrderState::default(); batch],
            filled,
            fill_price,
            bin: 0,
        })
    }

    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// Bins simulated so far (the index of the next bin).
    pub fn bin(&self) -> usize {
        self.bin
    }

    /// Simulate the next bin with `fractions` [batch] (each order's fraction
    /// of its quantity for this bin, finite >= 0; the carry is added to it).
    /// Writes the bin's fills into `filled` and `fill_price` [batch] (NaN
    /// where nothing filled) and, when given, each order's carry into the
    /// next bin into `carry` [batch]. On an error nothing changes.
    #[allow(clippy::manual_range_contains)] // `&` of comparisons: no branch
    pub fn step(&mut self, fractions: &[f64], filled: &mut [f64], fill_price: &mut [f64], carry: Option<&mut [f64]>) -> CoreResult<()> {
        let (batch, h) = (self.batch, self.horizon);
        if self.bin >= h {
            return Err(CoreError::arg("fractions", format!("all {h} bins were simulated already; call finish()")).with("bin", self.bin));
        }
        let per = format!("[batch={batch}]");
        if fractions.len() != batch {
            return Err(CoreError::shape("fractions", batch, fractions.len(), &per));
        }
        for (name, got) in [("filled", filled.len()), ("fillPrice", fill_price.len())] {
            if got != batch {
                return Err(CoreError::shape(name, batch, got, &per));
            }
        }
        if let Some(c) = carry.as_ref() {
            if c.len() != batch {
                return Err(CoreError::shape("carry", batch, c.len(), &per));
            }
        }
        if !fractions.iter().fold(true, |ok, &x| ok & (x >= 0.0) & (x < f64::INFINITY)) {
            let (b, &x) = fractions.iter().enumerate().find(|(_, &x)| !(x >= 0.0 && x.is_finite())).expect("a bad fraction");
            let e = if x.is_finite() {
                CoreError::arg("fractions", format!("fractions[{b}] = {x} (order {b}) must be >= 0")).with("index", b)
            } else {
                CoreError::non_finite("fractions", b, x)
            };
            return Err(e.with("order", b).with("bin", self.bin));
        }
        let t = self.bin;
        let last = t + 1 == h;
        let col = t * batch..(t + 1) * batch;
        let (p, v) = (&self.price[col.clone()], &self.volume[col.clone()]);
        let (k, consts) = (&self.k, &self.consts);
        // The caller's carry, in the chunks of the states (or none).
        let chunks = batch.div_ceil(CHUNK);
        let carry_chunks: Vec<Option<&mut [f64]>> = match carry {
            Some(c) => c.chunks_mut(CHUNK).map(Some).collect(),
            None => (0..chunks).map(|_| None).collect(),
        };
        crate::pool::install(|| {
            self.states
                .par_chunks_mut(CHUNK)
                .zip(filled.par_chunks_mut(CHUNK))
                .zip(fill_price.par_chunks_mut(CHUNK))
                .zip(carry_chunks.into_par_iter())
                .enumerate()
                .for_each(|(ci, (((st, fq), fp), mut cc))| {
                    let b0 = ci * CHUNK;
                    for r in 0..st.len() {
                        let b = b0 + r;
                        let f = bin_step(&mut st[r], &consts[b], k, fractions[b], p[b], v[b], t, last);
                        fq[r] = f.q;
                        fp[r] = f.price;
                        if let Some(c) = cc.as_deref_mut() {
                            c[r] = st[r].carry;
                        }
                    }
                })
        });
        self.filled[col.clone()].copy_from_slice(filled);
        self.fill_price[col].copy_from_slice(fill_price);
        self.bin += 1;
        Ok(())
    }

    /// Each order's carry into the next bin (what it did not fill of its targets so far).
    pub fn carry(&self) -> Vec<f64> {
        self.states.iter().map(|s| s.carry).collect()
    }

    /// Each order's filled quantity so far.
    pub fn filled_so_far(&self) -> Vec<f64> {
        self.states.iter().map(|s| s.filled).collect()
    }

    /// Write the results (the batch call's outputs) into `out`, once all
    /// bins were simulated (ERR_ARG naming `finish` before). May be called
    /// more than once.
    pub fn finish_into(&self, out: &mut FillOut) -> CoreResult<()> {
        if self.bin < self.horizon {
            return Err(CoreError::arg(
                "finish",
                format!("only {} of {} bins were simulated; step through every bin first", self.bin, self.horizon),
            )
            .with("bin", self.bin));
        }
        check_out_shapes(self.batch, self.horizon, out)?;
        let (batch, h) = (self.batch, self.horizon);
        let parts = chunks(out, batch, h);
        crate::pool::install(|| {
            parts.into_par_iter().for_each(|ch| {
                let Chunk { row0, rows, filled, fill_price, mut orders, .. } = ch;
                for r in 0..rows {
                    let b = row0 + r;
                    for t in 0..h {
                        filled[r * h + t] = self.filled[t * batch + b];
                        fill_price[r * h + t] = self.fill_price[t * batch + b];
                    }
                    write_order(&mut orders, r, &self.states[b], &self.consts[b], self.arrival[b]);
                }
            })
        });
        Ok(())
    }

    /// [`finish_into`](Self::finish_into) into fresh outputs.
    pub fn finish(&self) -> CoreResult<FillOutputs> {
        let mut o = FillOutputs::new(self.batch, self.horizon)?;
        self.finish_into(&mut o.as_out())?;
        Ok(o)
    }
}

/// Row-major [batch, h] to time-major [h, batch]: task j writes orders
/// [j·T_CHUNK, (j+1)·T_CHUNK) of every column (reads x once, in row order).
fn transpose(x: &[f64], batch: usize, h: usize) -> CoreResult<Vec<f64>> {
    let mut y = crate::buffer::zeroed_vec::<f64>("batch", batch * h)?;
    let mut tasks: Vec<Vec<&mut [f64]>> = (0..batch.div_ceil(T_CHUNK)).map(|_| Vec::with_capacity(h)).collect();
    for col in y.chunks_mut(batch.max(1)) {
        for (j, block) in col.chunks_mut(T_CHUNK).enumerate() {
            tasks[j].push(block);
        }
    }
    crate::pool::install(|| {
        tasks.into_par_iter().enumerate().for_each(|(j, cols)| {
            let b0 = j * T_CHUNK;
            for (t, col) in cols.into_iter().enumerate() {
                for (r, y) in col.iter_mut().enumerate() {
                    *y = x[(b0 + r) * h + t];
                }
            }
        })
    });
    Ok(y)
}
