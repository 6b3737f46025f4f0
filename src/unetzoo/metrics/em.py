"""Electron-microscopy (neurite) segmentation scores: Rand and information-theoretic, two families.

Both compare *segmentations* (label images of segments), not masks: a foreground mask is first split into its
connected components (4-connectivity, as the ISBI 2012 Fiji scripts do), background = label 0.

1. **scikit-image scores** (SNEMI3D convention):

   * ``adapted_rand_error``: :func:`skimage.metrics.adapted_rand_error` (pixel-*pair* counts, ground-truth
     background ignored, predicted background counted as one segment). 0 is perfect.
   * ``vi_split``, ``vi_merge``: :func:`skimage.metrics.variation_of_information` over the **whole image**
     (background is a segment too), in bits (scikit-image uses log2): ``vi_split = H(pred | gt)``
     (over-segmentation, false splits), ``vi_merge = H(gt | pred)`` (under-segmentation, false merges).
     0 is perfect. Because background is a segment, a false membrane drawn across a cell also adds a little
     ``vi_merge`` (its pixels join the background segment).

2. **ISBI 2012 foreground-restricted scores** (Arganda-Carreras et al., "Crowdsourcing the creation of image
   segmentation algorithms for connectomics", Front. Neuroanat. 2015), hand-written with scipy.sparse:
   ``v_rand`` and ``v_info`` (1 is perfect), F-scores of split and merge terms computed from the contingency
   table restricted to the ground truth's foreground. The official challenge score also thins the borders
   and takes the best threshold over probability maps; these functions score one given segmentation.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from skimage import metrics

from unetzoo.data.instances import components


def _f_score(a: float, b: float) -> float:
    return 2 * a * b / (a + b) if a + b > 0 else 0.0


def foreground_restricted_scores(pred_labels: np.ndarray, gt_labels: np.ndarray) -> dict[str, float]:
    """ISBI 2012 V_rand and V_info with their split/merge terms (Arganda-Carreras et al. 2015).

    Only pixels where the ground truth is foreground (label != 0) are counted. Predicted background
    (label 0) inside that region counts as one singleton segment per pixel (the SNEMI3D / ISBI scripts'
    intent), so predicting boundary where there is a cell is a split, never a free pass. With ``p_ij`` the
    joint distribution of (predicted segment i, true segment j) over those pixels, ``s_i`` and ``t_j`` its
    marginals, ``I`` the mutual information and ``H`` the entropy:

    * ``v_rand_split = sum p_ij^2 / sum t_j^2``, ``v_rand_merge = sum p_ij^2 / sum s_i^2``,
      ``v_rand = 2 sum p_ij^2 / (sum s_i^2 + sum t_j^2)`` (their harmonic mean, alpha = 0.5);
    * ``v_info_split = I(S; T) / H(S)``, ``v_info_merge = I(S; T) / H(T)``, ``v_info`` = their harmonic
      mean; a split (merge) term whose entropy is 0 is 1 (a single segment cannot be over-split).

    All in [0, 1], 1 is perfect. NaN when the ground truth has no foreground.
    """
    pred = np.asarray(pred_labels).ravel().astype(np.int64)
    gt = np.asarray(gt_labels).ravel()
    if pred.shape != gt.shape:
        raise ValueError(f"label images differ in size: {pred.size} vs {gt.size}")
    inside = gt != 0
    if not inside.any():
        return dict.fromkeys(
            ("v_rand", "v_rand_split", "v_rand_merge", "v_info", "v_info_split", "v_info_merge"), float("nan")
        )
    pred, gt = pred[inside], gt[inside]
    unlabelled = pred == 0
    pred[unlabelled] = pred.max() + 1 + np.arange(unlabelled.sum())
    rows = np.unique(pred, return_inverse=True)[1]
    cols = np.unique(gt, return_inverse=True)[1]
    p = sparse.coo_array((np.full(pred.size, 1.0 / pred.size), (rows, cols))).tocsr()
    p.sum_duplicates()
    p_ij = p.data
    s = np.asarray(p.sum(axis=1)).ravel()
    t = np.asarray(p.sum(axis=0)).ravel()

    sum_p2, sum_s2, sum_t2 = p_ij @ p_ij, s @ s, t @ t
    rand_split, rand_merge = sum_p2 / sum_t2, sum_p2 / sum_s2

    row_of, col_of = np.repeat(np.arange(p.shape[0]), np.diff(p.indptr)), p.indices
    mutual = float(np.sum(p_ij * np.log(p_ij / (s[row_of] * t[col_of]))))
    h_s, h_t = float(-np.sum(s * np.log(s))), float(-np.sum(t * np.log(t)))
    info_split = mutual / h_s if h_s > 0 else 1.0
    info_merge = mutual / h_t if h_t > 0 else 1.0
    return {
        "v_rand": float(_f_score(rand_split, rand_merge)),
        "v_rand_split": float(rand_split),
        "v_rand_merge": float(rand_merge),
        "v_info": _f_score(info_split, info_merge),
        "v_info_split": info_split,
        "v_info_merge": info_merge,
    }


def em_scores(pred_mask: np.ndarray, gt_mask: np.ndarray) -> dict[str, float]:
    """All EM scores of one image from two foreground masks (connected components become segments).

    Keys: ``adapted_rand_error``, ``vi_split``, ``vi_merge`` (scikit-image, 0 is perfect) and ``v_rand``,
    ``v_info`` (ISBI 2012 foreground-restricted, 1 is perfect); see the module docstring for which is which.
    ``adapted_rand_error``, ``v_rand`` and ``v_info`` are NaN when the ground truth has no foreground.
    """
    pred, gt = components(pred_mask), components(gt_mask)
    vi_split, vi_merge = metrics.variation_of_information(gt, pred)
    with np.errstate(divide="ignore", invalid="ignore"):  # a one-pixel ground truth has no pixel pairs
        are = float(metrics.adapted_rand_error(gt, pred)[0]) if gt.any() else float("nan")
    restricted = foreground_restricted_scores(pred, gt)
    return {
        "adapted_rand_error": are,
        "vi_split": float(vi_split),
        "vi_merge": float(vi_merge),
        "v_rand": restricted["v_rand"],
        "v_info": restricted["v_info"],
    }
