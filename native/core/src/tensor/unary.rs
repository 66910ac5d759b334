//! out = f(x) element-wise. Functions as tfjs-backend-cpu computes them:
//! sigmoid 1/(1 + e^-x) and exp, tanh in f64 rounded once to f32 (tfjs uses
//! Math.exp / Math.tanh on doubles), relu max(x, 0) keeping NaN, neg, abs,
//! square. Cost: one pass (the f64 transcendental functions dominate).

use crate::error::{CoreError, CoreResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Sigmoid,
    Tanh,
    Relu,
    Exp,
    Neg,
    Abs,
    Square,
}

impl UnaryOp {
    pub fn parse(name: &str) -> CoreResult<Self> {
        Ok(match name {
            "sigmoid" => UnaryOp::Sigmoid,
            "tanh" => UnaryOp::Tanh,
            "relu" => UnaryOp::Relu,
            "exp" => UnaryOp::Exp,
            "neg" => UnaryOp::Neg,
            "abs" => UnaryOp::Abs,
            "square" => UnaryOp::Square,
            o => {
                return Err(CoreError::arg(
                    "op",
                    format!("must be one of 'sigmoid', 'tanh', 'relu', 'exp', 'neg', 'abs', 'square', got '{o}'"),
                ))
            }
        })
    }

    /// The specification of one element.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Sigmoid => (1.0 / (1.0 + (-(x as f64)).exp())) as f32,
            UnaryOp::Tanh => (x as f64).tanh() as f32,
            UnaryOp::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            UnaryOp::Exp => (x as f64).exp() as f32,
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Square => x * x,
        }
    }
}

pub fn unary(op: UnaryOp, x: &[f32], out: &mut [f32]) -> CoreResult<()> {
    if out.len() != x.len() {
        return Err(CoreError::shape("out", x.len(), out.len(), "the length of x"));
    }
    for (o, &v) in out.iter_mut().zip(x) {
        *o = op.apply(v);
    }
    Ok(())
}
