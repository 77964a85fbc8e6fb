// What the vehicle layer stamps: pre-rendered dots (SpriteAtlas) and the WebGL point-sprite
// renderer that draws all of them in one call (GlDots).

import { ALPHA_LEVELS, DEG, STATUSES, levelAlpha } from "./vehicles.js";

export const HEADING_STEPS = 36; // sprites for every 10 degrees

export const STATUS_CELL = { moving: 0, idle: 1, stopped: 2, offline: 3 };

// Every dot the layer can draw, pre-rendered once per radius and pixel ratio into one canvas:
// a white halo, the status fill, and for moving vehicles a wedge pointing where they head
// (one cell per 10 degrees). It is the WebGL texture, or the drawImage source in 2D.
export class SpriteAtlas {
  constructor(colors, radius, ratio) {
    this.radius = radius;
    this.ratio = ratio;
    this.wedge = Math.max(4, radius);
    this.half = Math.ceil(radius + this.wedge + 1.5); // CSS px from the centre to a cell edge
    this.size = this.half * 2; // CSS px
    this.cell = this.size * ratio; // device px
    // A plain dot (no wedge) fits a much smaller square centred in its cell.
    this.plainHalf = Math.ceil(radius + 2);
    this.plainSize = this.plainHalf * 2;
    this.plainCell = this.plainSize * ratio;
    this.columns = 8;
    this.rows = Math.ceil((STATUSES.length + HEADING_STEPS) / this.columns);
    const canvas = document.createElement("canvas");
    canvas.width = this.columns * this.cell;
    canvas.height = this.rows * this.cell;
    const ctx = canvas.getContext("2d");
    for (const status of STATUSES) {
      this._paint(ctx, STATUS_CELL[status], colors[status], -1);
    }
    for (let step = 0; step < HEADING_STEPS; step++) {
      this._paint(ctx, STATUSES.length + step, colors.moving, step);
    }
    this.canvas = canvas;
  }

  cellOf(record) {
    const heading = record.heading;
    if (record.rank === 3 && heading !== null && heading === heading) {
      const step = Math.round((((heading % 360) + 360) % 360) / (360 / HEADING_STEPS)) % HEADING_STEPS;
      return STATUSES.length + step;
    }
    return STATUS_CELL[record.status];
  }

  _paint(ctx, index, color, headingStep) {
    const radius = this.radius;
    ctx.save();
    ctx.translate((index % this.columns) * this.cell, Math.floor(index / this.columns) * this.cell);
    ctx.scale(this.ratio, this.ratio);
    ctx.translate(this.half, this.half);
    ctx.beginPath();
    ctx.arc(0, 0, radius, 0, Math.PI * 2);
    if (headingStep >= 0) {
      // Heading: degrees clockwise from north; canvas y grows downwards.
      const angle = (headingStep * (360 / HEADING_STEPS) - 90) * DEG;
      const spread = 38 * DEG;
      const tip = radius + this.wedge;
      ctx.moveTo(Math.cos(angle - spread) * radius, Math.sin(angle - spread) * radius);
      ctx.lineTo(Math.cos(angle) * tip, Math.sin(angle) * tip);
      ctx.lineTo(Math.cos(angle + spread) * radius, Math.sin(angle + spread) * radius);
      ctx.closePath();
    }
    ctx.lineJoin = "round";
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(255,255,255,0.95)";
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.fill();
    ctx.beginPath();
    ctx.arc(0, 0, radius - 0.5, 0, Math.PI * 2);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "rgba(15,23,42,0.25)";
    ctx.stroke();
    ctx.restore();
  }
}

// Plain dots (cells 0-3) are drawn as smaller points than wedge dots: most of a wedge cell is
// transparent room for the wedge, and every texel of a point costs fill rate.
export const DOT_VERTEX_SHADER = `
  attribute vec2 a_position; // CSS px from the canvas's top-left corner
  attribute float a_cell;
  attribute float a_alpha;
  uniform vec2 u_size;
  uniform float u_point; // device px: a whole atlas cell
  uniform float u_plain; // device px: the tight square around a plain dot
  uniform vec2 u_grid;
  varying vec2 v_origin;
  varying vec2 v_span;
  varying float v_alpha;
  void main() {
    gl_Position = vec4(a_position.x / u_size.x * 2.0 - 1.0, 1.0 - a_position.y / u_size.y * 2.0, 0.0, 1.0);
    float size = a_cell < 3.5 ? u_plain : u_point;
    gl_PointSize = size;
    float row = floor((a_cell + 0.5) / u_grid.x);
    vec2 scale = 1.0 / u_grid;
    v_span = scale * (size / u_point);
    v_origin = (vec2(a_cell - row * u_grid.x, row) + 0.5 * (1.0 - size / u_point)) * scale;
    v_alpha = a_alpha;
  }`;

export const DOT_FRAGMENT_SHADER = `
  precision mediump float;
  uniform sampler2D u_atlas;
  varying vec2 v_origin;
  varying vec2 v_span;
  varying float v_alpha;
  void main() {
    vec4 color = texture2D(u_atlas, v_origin + gl_PointCoord * v_span);
    if (color.a < 0.004) {
      discard;
    }
    gl_FragColor = color * v_alpha;
  }`;

// All dots in one WebGL draw call: point sprites textured from the atlas. The main thread only
// fills one Float32Array; rasterising is the GPU's job. Returns null where WebGL is missing.
export class GlDots {
  static create(canvas) {
    let gl = null;
    try {
      gl = canvas.getContext("webgl", {
        alpha: true,
        antialias: false,
        depth: false,
        stencil: false,
        premultipliedAlpha: true,
        preserveDrawingBuffer: false,
      });
    } catch (error) {
      gl = null;
    }
    if (!gl) {
      return null;
    }
    const compile = (type, source) => {
      const shader = gl.createShader(type);
      gl.shaderSource(shader, source);
      gl.compileShader(shader);
      if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
        throw new Error(gl.getShaderInfoLog(shader) || "shader");
      }
      return shader;
    };
    try {
      const program = gl.createProgram();
      gl.attachShader(program, compile(gl.VERTEX_SHADER, DOT_VERTEX_SHADER));
      gl.attachShader(program, compile(gl.FRAGMENT_SHADER, DOT_FRAGMENT_SHADER));
      gl.linkProgram(program);
      if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
        throw new Error(gl.getProgramInfoLog(program) || "link");
      }
      return new GlDots(gl, program);
    } catch (error) {
      console.warn("live map: WebGL unusable, drawing with canvas 2D", error);
      return null;
    }
  }

  constructor(gl, program) {
    this.gl = gl;
    this.program = program;
    this.maxPoint = gl.getParameter(gl.ALIASED_POINT_SIZE_RANGE)[1];
    this.data = new Float32Array(4 * 1024);
    this.buffer = gl.createBuffer();
    this.texture = gl.createTexture();
    this.atlas = null;
    gl.useProgram(program);
    const location = (name) => gl.getAttribLocation(program, name);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
    const stride = 16;
    gl.enableVertexAttribArray(location("a_position"));
    gl.vertexAttribPointer(location("a_position"), 2, gl.FLOAT, false, stride, 0);
    gl.enableVertexAttribArray(location("a_cell"));
    gl.vertexAttribPointer(location("a_cell"), 1, gl.FLOAT, false, stride, 8);
    gl.enableVertexAttribArray(location("a_alpha"));
    gl.vertexAttribPointer(location("a_alpha"), 1, gl.FLOAT, false, stride, 12);
    this.uSize = gl.getUniformLocation(program, "u_size");
    this.uPoint = gl.getUniformLocation(program, "u_point");
    this.uPlain = gl.getUniformLocation(program, "u_plain");
    this.uGrid = gl.getUniformLocation(program, "u_grid");
    gl.uniform1i(gl.getUniformLocation(program, "u_atlas"), 0);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA); // premultiplied alpha
  }

  supports(atlas) {
    return atlas.cell <= this.maxPoint;
  }

  setAtlas(atlas) {
    if (this.atlas === atlas) {
      return;
    }
    const gl = this.gl;
    this.atlas = atlas;
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.texture);
    gl.pixelStorei(gl.UNPACK_PREMULTIPLY_ALPHA_WEBGL, true);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, atlas.canvas);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, gl.NEAREST);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    gl.uniform1f(this.uPoint, atlas.cell);
    gl.uniform1f(this.uPlain, atlas.plainCell);
    gl.uniform2f(this.uGrid, atlas.columns, atlas.rows);
  }

  // xs/ys: CSS px; cells/levels per point; order: paint order (indexes into them).
  draw(width, height, ratio, n, order, xs, ys, cells, levels) {
    const gl = this.gl;
    const canvas = gl.canvas;
    const deviceWidth = Math.round(width * ratio);
    const deviceHeight = Math.round(height * ratio);
    if (canvas.width !== deviceWidth || canvas.height !== deviceHeight) {
      canvas.width = deviceWidth;
      canvas.height = deviceHeight;
    }
    if (this.data.length < n * 4) {
      this.data = new Float32Array(Math.max(n * 4, this.data.length * 2));
    }
    const data = this.data;
    for (let k = 0, j = 0; k < n; k++) {
      const i = order[k];
      // Whole CSS px: with an even sprite size every texel lands on one device pixel.
      data[j++] = Math.round(xs[i]);
      data[j++] = Math.round(ys[i]);
      data[j++] = cells[i];
      data[j++] = LEVEL_ALPHA[levels[i]];
    }
    gl.viewport(0, 0, deviceWidth, deviceHeight);
    gl.uniform2f(this.uSize, width, height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (n > 0) {
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffer);
      gl.bufferData(gl.ARRAY_BUFFER, data.subarray(0, n * 4), gl.DYNAMIC_DRAW);
      gl.drawArrays(gl.POINTS, 0, n);
    }
  }
}

export const LEVEL_ALPHA = Array.from({ length: ALPHA_LEVELS }, (_, level) => levelAlpha(level));
