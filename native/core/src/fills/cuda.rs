//! Launcher of kernels/fills.cu (feature `cuda`). Same contract as
//! `cpu.rs` (the spec): the kernel flags orders with an invalid input and the
//! CPU re-validates them, so errors are identical across devices. Cost per
//! call: the inputs copied to the device, one pass of the kernel (one thread
//! per order), the results copied back.

use cudarc::driver::PushKernelArg;

use super::cpu::{simulate_fills as simulate_fills_cpu, BinParams, Power};
use super::{check_call, FillInputs, FillOut, FillParams, Passive, ORDER_F64_FIELDS};
use crate::cuda::{e, gpu, launch_cfg};
use crate::error::{CoreError, CoreResult};

pub(super) fn simulate_fills(i: &FillInputs, schedule: &[f64], params: &FillParams, out: &mut FillOut) -> CoreResult<()> {
    check_call(i, schedule.len(), params, out)?;
    let (batch, h) = (i.batch, i.horizon);
    if batch > u32::MAX as usize / 2 {
        return Err(CoreError::arg("batch", "too large for one CUDA launch"));
    }
    if h > i32::MAX as usize {
        return Err(CoreError::arg("horizon", "too large for the CUDA kernel"));
    }
    let g = gpu().map_err(CoreError::cuda_unavailable)?;
    let _guard = g.lock.lock().unwrap_or_else(|p| p.into_inner());
    if batch == 0 {
        return Ok(());
    }
    let s = &g.stream;
    let k = BinParams::of(params);
    let dummy_f = [f64::NAN];
    let dummy_u = [0u8];
    let dp = s.clone_htod(i.price).map_err(e("copy price"))?;
    let dv = s.clone_htod(i.volume).map_err(e("copy volume"))?;
    let da = s.clone_htod(schedule).map_err(e("copy schedule"))?;
    let dsig = s.clone_htod(i.sigma).map_err(e("copy sigma"))?;
    let dhs = s.clone_htod(i.half_spread_bps).map_err(e("copy halfSpreadBps"))?;
    let dq = s.clone_htod(i.quantity).map_err(e("copy quantity"))?;
    let dside = s.clone_htod(i.side).map_err(e("copy side"))?;
    let dlim = s.clone_htod(i.limit_price.unwrap_or(&dummy_f)).map_err(e("copy limitPrice"))?;
    let darr = s.clone_htod(i.arrival_price.unwrap_or(&dummy_f)).map_err(e("copy arrivalPrice"))?;
    let (passive, passive_mode): (&[u8], i32) = match i.passive {
        Passive::None => (&dummy_u, 0),
        Passive::All => (&dummy_u, 1),
        Passive::PerOrder(p) => (p, 2),
    };
    let dpas = s.clone_htod(passive).map_err(e("copy passive"))?;
    let n = batch * h;
    let mut dfilled = s.alloc_zeros::<f64>(n).map_err(e("alloc"))?;
    let mut dprice = s.alloc_zeros::<f64>(n).map_err(e("alloc"))?;
    let mut dper = s.alloc_zeros::<f64>(ORDER_F64_FIELDS.len() * batch).map_err(e("alloc"))?;
    let mut dints = s.alloc_zeros::<i32>(2 * batch).map_err(e("alloc"))?;
    let mut dflag = s.alloc_zeros::<i32>(batch).map_err(e("alloc"))?;
    let (has_limit, has_arrival) = (i32::from(i.limit_price.is_some()), i32::from(i.arrival_price.is_some()));
    let (b64, h32) = (batch as i64, h as i32);
    let (power, beta): (i32, f64) = match k.power {
        Power::Sqrt => (0, 0.5),
        Power::Linear => (1, 1.0),
        Power::Pow(beta) => (2, beta),
    };
    let (sweep, stop_on) = (i32::from(k.sweep), i32::from(k.stop_on));
    let f = g.function("fills", "fills_f64")?;
    let mut l = s.launch_builder(&f);
    l.arg(&dp).arg(&dv).arg(&da).arg(&dsig).arg(&dhs).arg(&dq).arg(&dside);
    l.arg(&dlim).arg(&has_limit).arg(&darr).arg(&has_arrival).arg(&dpas).arg(&passive_mode);
    l.arg(&b64).arg(&h32);
    l.arg(&k.rho).arg(&power).arg(&beta).arg(&params.impact_eta).arg(&k.gamma).arg(&k.taker_rate).arg(&k.maker_rate);
    l.arg(&sweep).arg(&k.sweep_extra).arg(&stop_on).arg(&k.stop_rel).arg(&k.passive_share);
    l.arg(&mut dfilled).arg(&mut dprice).arg(&mut dper).arg(&mut dints).arg(&mut dflag);
    // SAFETY: the argument list matches the kernel's signature in fills.cu.
    unsafe { l.launch(launch_cfg(batch)) }.map_err(e("launch fills"))?;
    let flags = s.clone_dtoh(&dflag).map_err(e("copy back"))?;
    if flags.iter().any(|&x| x != 0) {
        // The CPU names the exact error (lowest order first).
        return simulate_fills_cpu(i, schedule, params, out);
    }
    s.memcpy_dtoh(&dfilled, &mut *out.filled).map_err(e("copy back"))?;
    s.memcpy_dtoh(&dprice, &mut *out.fill_price).map_err(e("copy back"))?;
    for (j, dst) in out.orders.f64_fields().into_iter().enumerate() {
        s.memcpy_dtoh(&dper.slice(j * batch..(j + 1) * batch), dst).map_err(e("copy back"))?;
    }
    s.memcpy_dtoh(&dints.slice(0..batch), &mut *out.orders.zero_volume_bins).map_err(e("copy back"))?;
    s.memcpy_dtoh(&dints.slice(batch..2 * batch), &mut *out.orders.stopped_at).map_err(e("copy back"))?;
    Ok(())
}
