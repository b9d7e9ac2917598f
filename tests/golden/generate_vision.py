#!/usr/bin/python3
"""Writes tests/golden/modules/vision.json, read by tests/vision/golden_vision_test.cpp: PyTorch 1.13's values
for F.interpolate, torchvision's tensor transforms (resize, rotate, colour adjustments, gaussian_blur, erase,
convert_image_dtype) and torchvision.ops (box_area, box_iou, nms, batched_nms, roi_align, roi_pool, with the
input gradients of the last two), and a PNG file built byte by byte with zlib and struct.

torchvision is not installed beside the system's PyTorch, so the reference computations below are
torchvision 0.14's own code, transcribed from its sources (torchvision/transforms/functional_tensor.py,
torchvision/transforms/functional.py, torchvision/ops/boxes.py, and for roi_align/roi_pool/nms the loops of
torchvision/csrc/ops/cpu/*_kernel.cpp), run on torch tensors. Inputs are float64 where a kernel's float32
arithmetic would make the comparison depend on the order of operations.

Run with the system Python, which has PyTorch 1.13:  /usr/bin/python3 tests/golden/generate_vision.py
"""

import math
import os
import struct
import zlib

import torch
import torch.nn.functional as F

from generate import encode_tensor, randn, write_fixture

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "modules", "vision.json")
F64, F32, U8 = torch.float64, torch.float32, torch.uint8


# ---- torchvision 0.14, functional_tensor.py ----

def _cast_squeeze_in(img, req_dtypes):
    need_squeeze = False
    if img.ndim < 4:
        img = img.unsqueeze(dim=0)
        need_squeeze = True
    out_dtype = img.dtype
    need_cast = False
    if out_dtype not in req_dtypes:
        need_cast = True
        img = img.to(req_dtypes[0])
    return img, need_cast, need_squeeze, out_dtype


def _cast_squeeze_out(img, need_cast, need_squeeze, out_dtype):
    if need_squeeze:
        img = img.squeeze(dim=0)
    if need_cast:
        if out_dtype in (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64):
            img = torch.round(img)
        img = img.to(out_dtype)
    return img


def _compute_resized_output_size(image_size, size, max_size=None):
    if len(size) == 1:
        h, w = image_size
        short, long = (w, h) if w <= h else (h, w)
        requested_new_short = size[0]
        new_short, new_long = requested_new_short, int(requested_new_short * long / short)
        if max_size is not None and new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    else:
        new_w, new_h = size[1], size[0]
    return [new_h, new_w]


def resize(img, size, interpolation="bilinear", max_size=None):
    output_size = _compute_resized_output_size(img.shape[-2:], size, max_size)
    if list(img.shape[-2:]) == output_size:
        return img
    img, need_cast, need_squeeze, out_dtype = _cast_squeeze_in(img, [torch.float32, torch.float64])
    align_corners = False if interpolation in ["bilinear", "bicubic"] else None
    img = F.interpolate(img, size=output_size, mode=interpolation, align_corners=align_corners)
    if interpolation == "bicubic" and out_dtype == torch.uint8:
        img = img.clamp(min=0, max=255)
    return _cast_squeeze_out(img, need_cast=need_cast, need_squeeze=need_squeeze, out_dtype=out_dtype)


def _get_inverse_affine_matrix(center, angle, translate, scale, shear):
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [d, -b, 0.0, -c, a, 0.0]
    matrix = [x / scale for x in matrix]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    return matrix


def _compute_affine_output_size(matrix, w, h):
    pts = torch.tensor([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]])
    theta = torch.tensor(matrix, dtype=torch.float).view(2, 3)
    new_pts = torch.matmul(pts, theta.T)
    min_vals, _ = new_pts.min(dim=0)
    max_vals, _ = new_pts.max(dim=0)
    min_vals += torch.tensor((w * 0.5, h * 0.5))
    max_vals += torch.tensor((w * 0.5, h * 0.5))
    tol = 1e-4
    cmax = torch.ceil((max_vals / tol).trunc_() * tol)
    cmin = torch.floor((min_vals / tol).trunc_() * tol)
    size = cmax - cmin
    return int(size[0]), int(size[1])


def _gen_affine_grid(theta, w, h, ow, oh):
    d = 0.5
    base_grid = torch.empty(1, oh, ow, 3, dtype=theta.dtype)
    x_grid = torch.linspace(-ow * 0.5 + d, ow * 0.5 + d - 1, steps=ow)
    base_grid[..., 0].copy_(x_grid)
    y_grid = torch.linspace(-oh * 0.5 + d, oh * 0.5 + d - 1, steps=oh).unsqueeze_(-1)
    base_grid[..., 1].copy_(y_grid)
    base_grid[..., 2].fill_(1)
    rescaled_theta = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=theta.dtype)
    output_grid = base_grid.view(1, oh * ow, 3).bmm(rescaled_theta)
    return output_grid.view(1, oh, ow, 2)


def _apply_grid_transform(img, grid, mode, fill):
    img, need_cast, need_squeeze, out_dtype = _cast_squeeze_in(img, [grid.dtype])
    if img.shape[0] > 1:
        grid = grid.expand(img.shape[0], grid.shape[1], grid.shape[2], grid.shape[3])
    if fill is not None:
        mask = torch.ones((img.shape[0], 1, img.shape[2], img.shape[3]), dtype=img.dtype)
        img = torch.cat((img, mask), dim=1)
    img = F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is not None:
        mask = img[:, -1:, :, :]
        img = img[:, :-1, :, :]
        mask = mask.expand_as(img)
        len_fill = len(fill) if isinstance(fill, (tuple, list)) else 1
        fill_img = torch.tensor(fill, dtype=img.dtype).view(1, len_fill, 1, 1).expand_as(img)
        if mode == "nearest":
            mask = mask < 0.5
            img[mask] = fill_img[mask]
        else:
            img = img * mask + (1.0 - mask) * fill_img
    return _cast_squeeze_out(img, need_cast, need_squeeze, out_dtype)


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None):
    center_f = [0.0, 0.0]
    if center is not None:
        height, width = img.shape[-2:]
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _get_inverse_affine_matrix(center_f, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    w, h = img.shape[-1], img.shape[-2]
    ow, oh = _compute_affine_output_size(matrix, w, h) if expand else (w, h)
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    theta = torch.tensor(matrix, dtype=dtype).reshape(1, 2, 3)
    grid = _gen_affine_grid(theta, w=w, h=h, ow=ow, oh=oh)
    return _apply_grid_transform(img, grid, interpolation, fill=fill)


def affine(img, angle, translate, scale, shear, interpolation="nearest", fill=None, center=None):
    """torchvision 0.14's F.affine on tensors."""
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    height, width = img.shape[-2:]
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [width, height])]
    matrix = _get_inverse_affine_matrix(center_f, angle, [1.0 * t for t in translate], scale, shear)
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    theta = torch.tensor(matrix, dtype=dtype).reshape(1, 2, 3)
    grid = _gen_affine_grid(theta, w=width, h=height, ow=width, oh=height)
    return _apply_grid_transform(img, grid, interpolation, fill=fill)


def _get_perspective_coeffs(startpoints, endpoints):
    a_matrix = torch.zeros(2 * len(startpoints), 8, dtype=torch.float)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a_matrix[2 * i, :] = torch.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]])
        a_matrix[2 * i + 1, :] = torch.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]])
    b_matrix = torch.tensor(startpoints, dtype=torch.float).view(8)
    return torch.linalg.lstsq(a_matrix, b_matrix, driver="gels").solution.tolist()


def _perspective_grid(coeffs, ow, oh, dtype):
    theta1 = torch.tensor([[[coeffs[0], coeffs[1], coeffs[2]], [coeffs[3], coeffs[4], coeffs[5]]]], dtype=dtype)
    theta2 = torch.tensor([[[coeffs[6], coeffs[7], 1.0], [coeffs[6], coeffs[7], 1.0]]], dtype=dtype)
    d = 0.5
    base_grid = torch.empty(1, oh, ow, 3, dtype=dtype)
    base_grid[..., 0].copy_(torch.linspace(d, ow * 1.0 + d - 1.0, steps=ow))
    base_grid[..., 1].copy_(torch.linspace(d, oh * 1.0 + d - 1.0, steps=oh).unsqueeze_(-1))
    base_grid[..., 2].fill_(1)
    rescaled_theta1 = theta1.transpose(1, 2) / torch.tensor([0.5 * ow, 0.5 * oh], dtype=dtype)
    output_grid1 = base_grid.view(1, oh * ow, 3).bmm(rescaled_theta1)
    output_grid2 = base_grid.view(1, oh * ow, 3).bmm(theta2.transpose(1, 2))
    return (output_grid1 / output_grid2 - 1.0).view(1, oh, ow, 2)


def perspective(img, startpoints, endpoints, interpolation="bilinear", fill=None):
    """torchvision 0.14's F.perspective on tensors."""
    coeffs = _get_perspective_coeffs(startpoints, endpoints)
    ow, oh = img.shape[-1], img.shape[-2]
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    grid = _perspective_grid(coeffs, ow=ow, oh=oh, dtype=dtype)
    return _apply_grid_transform(img, grid, interpolation, fill=fill)


def _max_value(dtype):
    return {torch.uint8: 255, torch.int8: 127, torch.int16: 32767, torch.int32: 2**31 - 1, torch.int64: 2**63 - 1}.get(dtype, 1.0)


def _blend(img1, img2, ratio):
    ratio = float(ratio)
    bound = _max_value(img1.dtype)
    return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)


def rgb_to_grayscale(img, num_output_channels=1):
    if img.shape[-3] == 3:
        r, g, b = img.unbind(dim=-3)
        l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype)
        l_img = l_img.unsqueeze(dim=-3)
    else:
        l_img = img.clone()
    if num_output_channels == 3:
        return l_img.expand(img.shape)
    return l_img


def adjust_brightness(img, f):
    return _blend(img, torch.zeros_like(img), f)


def adjust_contrast(img, f):
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    if img.shape[-3] == 3:
        mean = torch.mean(rgb_to_grayscale(img).to(dtype), dim=(-3, -2, -1), keepdim=True)
    else:
        mean = torch.mean(img.to(dtype), dim=(-3, -2, -1), keepdim=True)
    return _blend(img, mean, f)


def adjust_saturation(img, f):
    if img.shape[-3] == 1:
        return img
    return _blend(img, rgb_to_grayscale(img), f)


def _rgb2hsv(img):
    r, g, b = img.unbind(dim=-3)
    maxc = torch.max(img, dim=-3).values
    minc = torch.min(img, dim=-3).values
    eqc = maxc == minc
    cr = maxc - minc
    ones = torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    cr_divisor = torch.where(eqc, ones, cr)
    rc = (maxc - r) / cr_divisor
    gc = (maxc - g) / cr_divisor
    bc = (maxc - b) / cr_divisor
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = hr + hg + hb
    h = torch.fmod((h / 6.0 + 1.0), 1.0)
    return torch.stack((h, s, maxc), dim=-3)


def _hsv2rgb(img):
    h, s, v = img.unbind(dim=-3)
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=torch.int32)
    p = torch.clamp((v * (1.0 - s)), 0.0, 1.0)
    q = torch.clamp((v * (1.0 - s * f)), 0.0, 1.0)
    t = torch.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
    i = i % 6
    mask = i.unsqueeze(dim=-3) == torch.arange(6).view(-1, 1, 1)
    a1 = torch.stack((v, q, p, p, t, v), dim=-3)
    a2 = torch.stack((t, v, v, q, p, p), dim=-3)
    a3 = torch.stack((p, p, t, v, v, q), dim=-3)
    a4 = torch.stack((a1, a2, a3), dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)


def adjust_hue(img, hue_factor):
    if img.shape[-3] == 1:
        return img
    orig_dtype = img.dtype
    if img.dtype == torch.uint8:
        img = img.to(dtype=torch.float32) / 255.0
    img = _rgb2hsv(img)
    h, s, v = img.unbind(dim=-3)
    h = (h + hue_factor) % 1.0
    img = torch.stack((h, s, v), dim=-3)
    img_hue_adj = _hsv2rgb(img)
    if orig_dtype == torch.uint8:
        img_hue_adj = (img_hue_adj * 255.0).to(dtype=orig_dtype)
    return img_hue_adj


def _get_gaussian_kernel1d(kernel_size, sigma):
    ksize_half = (kernel_size - 1) * 0.5
    x = torch.linspace(-ksize_half, ksize_half, steps=kernel_size)
    pdf = torch.exp(-0.5 * (x / sigma).pow(2))
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma):
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    kx = _get_gaussian_kernel1d(kernel_size[0], sigma[0]).to(dtype=dtype)
    ky = _get_gaussian_kernel1d(kernel_size[1], sigma[1]).to(dtype=dtype)
    kernel = torch.mm(ky[:, None], kx[None, :])
    kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
    img, need_cast, need_squeeze, out_dtype = _cast_squeeze_in(img, [kernel.dtype])
    padding = [kernel_size[0] // 2, kernel_size[0] // 2, kernel_size[1] // 2, kernel_size[1] // 2]
    img = F.pad(img, padding, mode="reflect")
    img = F.conv2d(img, kernel, groups=img.shape[-3])
    return _cast_squeeze_out(img, need_cast, need_squeeze, out_dtype)


def convert_image_dtype(image, dtype):
    if image.dtype == dtype:
        return image
    if image.is_floating_point():
        if torch.tensor(0, dtype=dtype).is_floating_point():
            return image.to(dtype)
        eps = 1e-3
        max_val = float(_max_value(dtype))
        return image.mul(max_val + 1.0 - eps).to(dtype)
    input_max = float(_max_value(image.dtype))
    if torch.tensor(0, dtype=dtype).is_floating_point():
        return image.to(dtype) / input_max
    output_max = float(_max_value(dtype))
    if input_max > output_max:
        factor = int((input_max + 1) // (output_max + 1))
        return torch.div(image, factor, rounding_mode="floor").to(dtype)
    factor = int((output_max + 1) // (input_max + 1))
    return image.to(dtype) * factor


# ---- torchvision 0.14, ops/boxes.py and csrc/ops/cpu ----

def box_area(boxes):
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1, boxes2):
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (area1[:, None] + area2 - inter)


def nms(boxes, scores, thr):
    """nms_kernel.cpp: visit by decreasing score (stable sort), suppress later boxes with IoU > thr."""
    order = torch.sort(scores, stable=True, descending=True).indices.tolist()
    x1, y1, x2, y2 = [boxes[:, k].tolist() for k in range(4)]
    areas = [(x2[i] - x1[i]) * (y2[i] - y1[i]) for i in range(len(x1))]
    suppressed = [False] * len(order)
    keep = []
    for _i, i in enumerate(order):
        if suppressed[_i]:
            continue
        keep.append(i)
        for _j in range(_i + 1, len(order)):
            j = order[_j]
            if suppressed[_j]:
                continue
            w = max(0.0, min(x2[i], x2[j]) - max(x1[i], x1[j]))
            h = max(0.0, min(y2[i], y2[j]) - max(y1[i], y1[j]))
            inter = w * h
            if inter / (areas[i] + areas[j] - inter) > thr:
                suppressed[_j] = True
    return torch.tensor(keep, dtype=torch.int64)


def batched_nms(boxes, scores, idxs, thr):
    max_coordinate = boxes.max()
    offsets = idxs.to(boxes) * (max_coordinate + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, thr)


def roi_align(inp, rois, ph_, pw_, scale, sampling_ratio, aligned):
    """roi_align_kernel.cpp's forward, as a sum of weighted reads of inp (so autograd gives its backward)."""
    K, C, H, W = rois.shape[0], inp.shape[1], inp.shape[2], inp.shape[3]
    out = []
    offset = 0.5 if aligned else 0.0
    for k in range(K):
        b = int(rois[k, 0])
        x0 = rois[k, 1].item() * scale - offset
        y0 = rois[k, 2].item() * scale - offset
        rw = rois[k, 3].item() * scale - offset - x0
        rh = rois[k, 4].item() * scale - offset - y0
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bin_h, bin_w = rh / ph_, rw / pw_
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph_)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw_)
        count = max(gh * gw, 1)
        bins = []
        for ph in range(ph_):
            for pw in range(pw_):
                acc = torch.zeros(C, dtype=inp.dtype)
                for iy in range(gh):
                    y = y0 + ph * bin_h + (iy + 0.5) * bin_h / gh
                    for ix in range(gw):
                        x = x0 + pw * bin_w + (ix + 0.5) * bin_w / gw
                        yy, xx = y, x
                        if yy < -1.0 or yy > H or xx < -1.0 or xx > W:
                            continue
                        yy, xx = max(yy, 0.0), max(xx, 0.0)
                        yl, xl = int(yy), int(xx)
                        if yl >= H - 1:
                            yh = yl = H - 1
                            yy = float(yl)
                        else:
                            yh = yl + 1
                        if xl >= W - 1:
                            xh = xl = W - 1
                            xx = float(xl)
                        else:
                            xh = xl + 1
                        ly, lx = yy - yl, xx - xl
                        hy, hx = 1.0 - ly, 1.0 - lx
                        acc = acc + hy * hx * inp[b, :, yl, xl] + hy * lx * inp[b, :, yl, xh] + \
                            ly * hx * inp[b, :, yh, xl] + ly * lx * inp[b, :, yh, xh]
                bins.append(acc / count)
        out.append(torch.stack(bins, 1).view(C, ph_, pw_))
    return torch.stack(out, 0)


def cround(x):
    """C's std::round (halves away from zero), which the kernel uses; Python's round() rounds halves to even."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def roi_pool(inp, rois, ph_, pw_, scale):
    """roi_pool_kernel.cpp's forward: max over each bin (0 for an empty bin)."""
    K, C, H, W = rois.shape[0], inp.shape[1], inp.shape[2], inp.shape[3]
    out = []
    for k in range(K):
        b = int(rois[k, 0])
        sw, sh = cround(rois[k, 1].item() * scale), cround(rois[k, 2].item() * scale)
        ew, eh = cround(rois[k, 3].item() * scale), cround(rois[k, 4].item() * scale)
        rw, rh = max(ew - sw + 1, 1), max(eh - sh + 1, 1)
        bin_h, bin_w = rh / ph_, rw / pw_
        bins = []
        for ph in range(ph_):
            for pw in range(pw_):
                hs = min(max(math.floor(ph * bin_h) + sh, 0), H)
                he = min(max(math.ceil((ph + 1) * bin_h) + sh, 0), H)
                ws = min(max(math.floor(pw * bin_w) + sw, 0), W)
                we = min(max(math.ceil((pw + 1) * bin_w) + sw, 0), W)
                if he <= hs or we <= ws:
                    bins.append(torch.zeros(C, dtype=inp.dtype))
                else:
                    bins.append(inp[b, :, hs:he, ws:we].reshape(C, -1).max(1).values)
        out.append(torch.stack(bins, 1).view(C, ph_, pw_))
    return torch.stack(out, 0)


# ---- cases ----

def image(c, h, w, dtype=F64):
    if dtype == U8:
        return torch.randint(0, 256, (c, h, w), dtype=U8)
    return torch.rand(c, h, w, dtype=F64).mul(100).round().div(100).to(dtype)


def case(kind, inputs, expected, **args):
    return {"kind": kind, "args": args, "inputs": [encode_tensor(t) for t in inputs], "expected": encode_tensor(expected)}


def grad_case(kind, x, fn, extra, **args):
    """A case whose first input gets a gradient: of (fn(x) * w).sum()."""
    leaf = x.clone().requires_grad_(True)
    out = fn(leaf)
    w = randn(*out.shape, dtype=out.dtype)
    (out * w).sum().backward()
    c = case(kind, [x] + extra, out.detach(), **args)
    c["grad_weight"] = encode_tensor(w)
    c["grad"] = encode_tensor(leaf.grad)
    return c


def interpolate_cases(add):
    x3, x4, x5 = randn(1, 2, 5), randn(2, 2, 4, 5), randn(1, 1, 2, 3, 4)
    specs = [
        (x3, dict(scale_factor=2.0, mode="nearest")),
        (x3, dict(size=[8], mode="linear", align_corners=True)),
        (x3, dict(scale_factor=1.7, mode="linear")),
        (x4, dict(scale_factor=[1.5, 2.3], mode="bilinear")),
        (x4, dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True)),
        (x4, dict(size=[7, 3], mode="bicubic", align_corners=False)),
        (x4, dict(scale_factor=0.6, mode="nearest")),
        (x4, dict(size=[6, 7], mode="nearest-exact")),
        (x4, dict(size=[2, 3], mode="area")),
        (x4, dict(scale_factor=0.5, mode="area")),
        (x5, dict(scale_factor=[1.5, 1.0, 0.75], mode="trilinear")),
        (x5, dict(size=[3, 4, 5], mode="nearest")),
    ]
    for x, kw in specs:
        add(grad_case("interpolate", x, lambda t, kw=kw: F.interpolate(t, **kw), [], **kw))


def transform_cases(add):
    img, img8 = image(3, 6, 8), image(3, 6, 8, U8)
    for size, mode in (([4], "bilinear"), ([9, 5], "bilinear"), ([5], "nearest"), ([7, 10], "bicubic")):
        add(case("resize", [img], resize(img, size, mode), size=size, interpolation=mode))
        add(case("resize", [img8], resize(img8, size, mode), size=size, interpolation=mode))
    add(case("resize", [img], resize(img, [4], "bilinear", max_size=5), size=[4], interpolation="bilinear", max_size=5))
    big = image(3, 9, 11)
    for angle, mode, expand, center, fill in ((30.0, "nearest", False, None, [0.0]), (-47.5, "bilinear", False, None, [0.0]),
                                              (60.0, "bilinear", True, None, [0.2, 0.4, 0.6]), (15.0, "nearest", True, [2.0, 3.0], [1.0]),
                                              (90.0, "nearest", False, None, None)):
        args = dict(angle=angle, interpolation=mode, expand=expand)
        if center is not None:
            args["center"] = center
        if fill is not None:
            args["fill"] = fill
        add(case("rotate", [big], rotate(big, angle, mode, expand, center, fill), **args))
    img8b = image(3, 9, 11, U8)
    add(case("rotate", [img8b], rotate(img8b, 33.0, "bilinear", False, None, [0.0]), angle=33.0, interpolation="bilinear", expand=False, fill=[0.0]))
    for angle, translate, scale, shear, mode, fill, center in (
            (20.0, [2.0, -1.0], 1.2, [10.0], "nearest", [0.0], None),
            (-35.0, [0.0, 3.0], 0.8, [5.0, -12.0], "bilinear", [0.3, 0.5, 0.7], None),
            (0.0, [1.0, 1.0], 1.0, [0.0, 0.0], "bilinear", None, [3.0, 2.0]),
            (75.0, [-2.0, 0.0], 1.5, [-20.0, 8.0], "nearest", [1.0], [4.0, 6.0])):
        args = dict(angle=angle, translate=translate, scale=scale, shear=shear, interpolation=mode)
        if fill is not None:
            args["fill"] = fill
        if center is not None:
            args["center"] = center
        add(case("affine", [big], affine(big, angle, translate, scale, shear, mode, fill, center), **args))
    add(case("affine", [img8b], affine(img8b, 12.0, [1.0, 0.0], 1.1, [3.0], "bilinear", [0.0]), angle=12.0,
             translate=[1.0, 0.0], scale=1.1, shear=[3.0], interpolation="bilinear", fill=[0.0]))
    start = [[0, 0], [10, 0], [10, 8], [0, 8]]
    for end, mode, fill in (([[1, 2], [9, 0], [10, 7], [2, 8]], "bilinear", [0.0]),
                            ([[2, 1], [8, 2], [9, 6], [0, 8]], "nearest", [0.5, 0.25, 1.0]),
                            ([[0, 0], [10, 1], [8, 8], [1, 6]], "bilinear", None)):
        args = dict(startpoints=start, endpoints=end, interpolation=mode)
        if fill is not None:
            args["fill"] = fill
        add(case("perspective", [big], perspective(big, start, end, mode, fill), **args))
    add(case("perspective", [img8b], perspective(img8b, start, [[1, 1], [9, 1], [9, 7], [1, 7]], "bilinear", [0.0]),
             startpoints=start, endpoints=[[1, 1], [9, 1], [9, 7], [1, 7]], interpolation="bilinear", fill=[0.0]))
    for src in (img, img8):
        add(case("rgb_to_grayscale", [src], rgb_to_grayscale(src), num_output_channels=1))
        add(case("rgb_to_grayscale", [src], rgb_to_grayscale(src, 3), num_output_channels=3))
        add(case("adjust_brightness", [src], adjust_brightness(src, 1.3), factor=1.3))
        add(case("adjust_contrast", [src], adjust_contrast(src, 0.6), factor=0.6))
        add(case("adjust_saturation", [src], adjust_saturation(src, 1.7), factor=1.7))
        add(case("adjust_hue", [src], adjust_hue(src, 0.21), factor=0.21))
        add(case("adjust_hue", [src], adjust_hue(src, -0.37), factor=-0.37))
    gray = image(1, 5, 5)
    add(case("adjust_contrast", [gray], adjust_contrast(gray, 1.4), factor=1.4))
    add(case("gaussian_blur", [img], gaussian_blur(img, [3, 5], [0.8, 1.3]), kernel_size=[3, 5], sigma=[0.8, 1.3]))
    add(case("gaussian_blur", [img8], gaussian_blur(img8, [5, 3], [1.1, 0.5]), kernel_size=[5, 3], sigma=[1.1, 0.5]))
    v = torch.tensor([0.1, 0.2, 0.3], dtype=F64).view(3, 1, 1)
    erased = img.clone()
    erased[..., 1:4, 2:7] = v
    add(case("erase", [img, v], erased, i=1, j=2, h=3, w=5))
    for src, dst in ((img8, torch.float32), (img.float(), torch.uint8), (img8, torch.int32), (img8.to(torch.int32), torch.uint8),
                     (img.float(), torch.float64), (img8.to(torch.int16), torch.int64)):
        add(case("convert_image_dtype", [src], convert_image_dtype(src, dst), dtype=str(dst).replace("torch.", "")))


def box_cases(add):
    def boxes(n, scale=10.0):
        xy = torch.rand(n, 2, dtype=F64) * scale
        wh = torch.rand(n, 2, dtype=F64) * scale * 0.6 + 0.5
        return torch.cat([xy, xy + wh], 1).mul(100).round().div(100)

    b1, b2 = boxes(5), boxes(4)
    add(case("box_area", [b1], box_area(b1)))
    add(case("box_iou", [b1, b2], box_iou(b1, b2)))
    bi = torch.tensor([[0, 0, 4, 4], [1, 1, 5, 6], [7, 7, 9, 9]], dtype=torch.int64)
    add(case("box_area", [bi], box_area(bi)))
    many, scores = boxes(30, 6.0), torch.rand(30, dtype=F64)
    for thr in (0.3, 0.5, 0.7):
        add(case("nms", [many, scores], nms(many, scores, thr), iou_threshold=thr))
    tied = torch.tensor([0.5, 0.9, 0.5, 0.9, 0.2], dtype=F64)
    same = torch.tensor([[0, 0, 2, 2], [5, 5, 7, 7], [0, 0, 2, 2.1], [5, 5, 7, 7.1], [9, 9, 10, 10]], dtype=F64)
    add(case("nms", [same, tied], nms(same, tied, 0.5), iou_threshold=0.5))
    idxs = torch.randint(0, 3, (30,), dtype=torch.int64)
    add(case("batched_nms", [many, scores, idxs], batched_nms(many, scores, idxs, 0.4), iou_threshold=0.4))

    x = randn(2, 3, 7, 9)
    rois = torch.tensor([[0, 0.5, 1.2, 6.3, 5.1], [1, 2.0, 0.0, 8.9, 6.9], [0, 3.3, 2.2, 3.9, 2.8], [1, -1.5, -0.5, 4.0, 3.0],
                         [0, 6.0, 4.0, 12.0, 10.0]], dtype=F64)
    for size, scale, ratio, aligned in (([3, 3], 1.0, -1, False), ([2, 4], 1.0, 2, True), ([3, 2], 0.5, -1, True), ([4, 4], 1.0, 1, False)):
        add(grad_case("roi_align", x, lambda t, a=(size, scale, ratio, aligned): roi_align(t, rois, a[0][0], a[0][1], a[1], a[2], a[3]),
                      [rois], output_size=size, spatial_scale=scale, sampling_ratio=ratio, aligned=aligned))
    xd = torch.randperm(2 * 3 * 7 * 9, dtype=F64).div(10).view(2, 3, 7, 9)  # no ties for the max
    for size, scale in (([3, 3], 1.0), ([2, 4], 0.5)):
        add(grad_case("roi_pool", xd, lambda t, a=(size, scale): roi_pool(t, rois, a[0][0], a[0][1], a[1]), [rois],
                      output_size=size, spatial_scale=scale))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_cases(add):
    """An RGB and a gray PNG written byte by byte: signature, IHDR, one IDAT (filter 0 rows), IEND."""
    for c, color_type in ((3, 2), (1, 0), (4, 6)):
        pixels = torch.randint(0, 256, (5, 7, c), dtype=U8)
        raw = b"".join(b"\x00" + bytes(pixels[y].reshape(-1).tolist()) for y in range(5))
        data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 7, 5, 8, color_type, 0, 0, 0))
        data += png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")
        add(case("decode_png", [torch.tensor(list(data), dtype=U8)], pixels.permute(2, 0, 1).contiguous()))


def cases():
    c = []
    for part in (interpolate_cases, transform_cases, box_cases, png_cases):
        part(c.append)
    for i, x in enumerate(c):
        x["name"] = f"{x['kind']}_{i}"
    return c


def main():
    write_fixture(OUT, "tests/golden/generate_vision.py", 20260302, cases)


if __name__ == "__main__":
    main()
