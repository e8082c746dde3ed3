"""A corpus of textbook formulas for ``bench_formulas.py``: name, expression, and each variable's domain.

Each formula is written in the syntax of :func:`tapegrad.parse` (``**``, ``sqrt``, ``exp``, ``log``,
trigonometric functions, ``pi``), with every variable given the interval its values are drawn from:
inside the formula's physical domain, away from its singularities, so that every gradient is finite.
The formulas were chosen for the operations gradients of real models are made of: constant powers
(squares, cubes, inverse squares, square roots), quotients, exponentials, logarithms and
trigonometric functions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Formula:
    """One formula: what it is called, its expression, and ``(variable, low, high)`` per variable."""

    name: str
    expression: str
    domains: tuple[tuple[str, float, float], ...]

    @property
    def variables(self) -> list[str]:
        return [name for name, _, _ in self.domains]


def _f(name: str, expression: str, *domains: tuple[str, float, float]) -> Formula:
    return Formula(name, expression, tuple(domains))


POSITIVE = (0.5, 3.0)  # a generic positive quantity

FORMULAS: tuple[Formula, ...] = (
    # mechanics
    _f("kinetic energy", "0.5 * m * v**2", ("m", *POSITIVE), ("v", -3.0, 3.0)),
    _f("gravitational potential", "-G * M * m / r", ("G", *POSITIVE), ("M", *POSITIVE), ("m", *POSITIVE),
       ("r", *POSITIVE)),
    _f("Newton's gravitation", "G * M * m / r**2", ("G", *POSITIVE), ("M", *POSITIVE), ("m", *POSITIVE),
       ("r", *POSITIVE)),
    _f("pendulum period", "2 * pi * sqrt(L / g)", ("L", *POSITIVE), ("g", 9.0, 10.0)),
    _f("projectile range", "v**2 * sin(2 * theta) / g", ("v", *POSITIVE), ("theta", 0.1, 1.4), ("g", 9.0, 10.0)),
    _f("projectile height", "v**2 * sin(theta)**2 / (2 * g)", ("v", *POSITIVE), ("theta", 0.1, 1.4),
       ("g", 9.0, 10.0)),
    _f("time of flight", "2 * v * sin(theta) / g", ("v", *POSITIVE), ("theta", 0.1, 1.4), ("g", 9.0, 10.0)),
    _f("spring energy", "0.5 * k * x**2", ("k", *POSITIVE), ("x", -2.0, 2.0)),
    _f("centripetal force", "m * v**2 / r", ("m", *POSITIVE), ("v", *POSITIVE), ("r", *POSITIVE)),
    _f("damped oscillator", "A * exp(-b * t / (2 * m)) * cos(w * t + phi)", ("A", *POSITIVE), ("b", *POSITIVE),
       ("t", *POSITIVE), ("m", *POSITIVE), ("w", *POSITIVE), ("phi", -1.0, 1.0)),
    _f("escape velocity", "sqrt(2 * G * M / r)", ("G", *POSITIVE), ("M", *POSITIVE), ("r", *POSITIVE)),
    _f("orbital period", "2 * pi * sqrt(a**3 / (G * M))", ("a", *POSITIVE), ("G", *POSITIVE), ("M", *POSITIVE)),
    _f("moment of inertia of a disc", "0.5 * m * r**2", ("m", *POSITIVE), ("r", *POSITIVE)),
    _f("rotational energy", "0.5 * I * w**2", ("I", *POSITIVE), ("w", -3.0, 3.0)),
    _f("drag force", "0.5 * rho * v**2 * Cd * A", ("rho", *POSITIVE), ("v", *POSITIVE), ("Cd", 0.1, 1.0),
       ("A", *POSITIVE)),
    _f("rocket equation", "ve * log(m0 / mf)", ("ve", *POSITIVE), ("m0", 3.0, 5.0), ("mf", *POSITIVE)),
    _f("Kepler's third law", "sqrt(4 * pi**2 * a**3 / (G * (M + m)))", ("a", *POSITIVE), ("G", *POSITIVE),
       ("M", *POSITIVE), ("m", *POSITIVE)),
    # relativity
    _f("Lorentz factor", "1 / sqrt(1 - v**2 / c**2)", ("v", 0.0, 0.9), ("c", 1.0, 1.1)),
    _f("relativistic energy", "sqrt((p * c)**2 + (m * c**2)**2)", ("p", *POSITIVE), ("m", *POSITIVE),
       ("c", *POSITIVE)),
    _f("relativistic kinetic energy", "m * c**2 * (1 / sqrt(1 - v**2 / c**2) - 1)", ("m", *POSITIVE),
       ("v", 0.0, 0.9), ("c", 1.0, 1.1)),
    _f("relativistic Doppler", "f0 * sqrt((1 + b) / (1 - b))", ("f0", *POSITIVE), ("b", -0.9, 0.9)),
    _f("time dilation", "t0 / sqrt(1 - v**2 / c**2)", ("t0", *POSITIVE), ("v", 0.0, 0.9), ("c", 1.0, 1.1)),
    # electromagnetism
    _f("Coulomb's law", "k * q1 * q2 / r**2", ("k", *POSITIVE), ("q1", -2.0, 2.0), ("q2", -2.0, 2.0),
       ("r", *POSITIVE)),
    _f("electric potential", "k * q / r", ("k", *POSITIVE), ("q", -2.0, 2.0), ("r", *POSITIVE)),
    _f("capacitor energy", "0.5 * C * V**2", ("C", *POSITIVE), ("V", -3.0, 3.0)),
    _f("magnetic field of a wire", "mu * I / (2 * pi * r)", ("mu", *POSITIVE), ("I", *POSITIVE), ("r", *POSITIVE)),
    _f("field of a ring on its axis", "k * Q * z / (z**2 + R**2)**1.5", ("k", *POSITIVE), ("Q", *POSITIVE),
       ("z", -2.0, 2.0), ("R", *POSITIVE)),
    _f("dipole field", "k * p * sqrt(3 * cos(theta)**2 + 1) / r**3", ("k", *POSITIVE), ("p", *POSITIVE),
       ("theta", 0.0, 3.0), ("r", *POSITIVE)),
    _f("RC charging", "V * (1 - exp(-t / (R * C)))", ("V", *POSITIVE), ("t", *POSITIVE), ("R", *POSITIVE),
       ("C", *POSITIVE)),
    _f("LC resonance", "1 / (2 * pi * sqrt(L * C))", ("L", *POSITIVE), ("C", *POSITIVE)),
    _f("RLC impedance", "sqrt(R**2 + (w * L - 1 / (w * C))**2)", ("R", *POSITIVE), ("w", *POSITIVE),
       ("L", *POSITIVE), ("C", *POSITIVE)),
    _f("Joule heating", "I**2 * R * t", ("I", -3.0, 3.0), ("R", *POSITIVE), ("t", *POSITIVE)),
    _f("Larmor power", "q**2 * a**2 / (6 * pi * e0 * c**3)", ("q", *POSITIVE), ("a", *POSITIVE),
       ("e0", *POSITIVE), ("c", *POSITIVE)),
    # thermodynamics and statistical physics
    _f("ideal gas pressure", "n * R * T / V", ("n", *POSITIVE), ("R", 8.0, 8.5), ("T", 200.0, 400.0),
       ("V", *POSITIVE)),
    _f("van der Waals pressure", "R * T / (V - b) - a / V**2", ("R", 8.0, 8.5), ("T", 200.0, 400.0),
       ("V", 2.0, 4.0), ("a", *POSITIVE), ("b", 0.01, 0.1)),
    _f("Arrhenius rate", "A * exp(-Ea / (R * T))", ("A", *POSITIVE), ("Ea", 1.0, 5.0), ("R", 0.5, 1.0),
       ("T", *POSITIVE)),
    _f("Stefan-Boltzmann power", "sigma * A * T**4", ("sigma", *POSITIVE), ("A", *POSITIVE), ("T", *POSITIVE)),
    _f("Planck's law", "2 * h * nu**3 / c**2 / (exp(h * nu / (k * T)) - 1)", ("h", *POSITIVE), ("nu", *POSITIVE),
       ("c", *POSITIVE), ("k", *POSITIVE), ("T", *POSITIVE)),
    _f("Boltzmann factor", "exp(-E / (k * T))", ("E", *POSITIVE), ("k", *POSITIVE), ("T", *POSITIVE)),
    _f("Maxwell-Boltzmann speed pdf",
       "4 * pi * (m / (2 * pi * k * T))**1.5 * v**2 * exp(-m * v**2 / (2 * k * T))",
       ("m", *POSITIVE), ("k", *POSITIVE), ("T", *POSITIVE), ("v", *POSITIVE)),
    _f("Carnot efficiency", "1 - Tc / Th", ("Tc", 1.0, 2.0), ("Th", 3.0, 4.0)),
    _f("entropy of mixing", "-n * R * (x * log(x) + (1 - x) * log(1 - x))", ("n", *POSITIVE), ("R", 8.0, 8.5),
       ("x", 0.05, 0.95)),
    _f("Fermi-Dirac occupation", "1 / (exp((E - mu) / (k * T)) + 1)", ("E", *POSITIVE), ("mu", *POSITIVE),
       ("k", *POSITIVE), ("T", *POSITIVE)),
    _f("heat conduction", "k * A * (T1 - T2) / d", ("k", *POSITIVE), ("A", *POSITIVE), ("T1", 3.0, 4.0),
       ("T2", 1.0, 2.0), ("d", *POSITIVE)),
    # waves and optics
    _f("Doppler effect", "f0 * (c + vr) / (c + vs)", ("f0", *POSITIVE), ("c", 300.0, 350.0), ("vr", -10.0, 10.0),
       ("vs", -10.0, 10.0)),
    _f("lens equation", "1 / (1 / f - 1 / do)", ("f", 0.5, 1.0), ("do", 2.0, 3.0)),
    _f("Snell's law angle", "asin(n1 * sin(t1) / n2)", ("n1", 1.0, 1.2), ("t1", 0.1, 0.6), ("n2", 1.4, 1.6)),
    _f("wave on a string", "A * sin(k * x - w * t)", ("A", *POSITIVE), ("k", *POSITIVE), ("x", *POSITIVE),
       ("w", *POSITIVE), ("t", *POSITIVE)),
    _f("single-slit intensity", "I0 * (sin(b) / b)**2", ("I0", *POSITIVE), ("b", 0.1, 3.0)),
    _f("Bragg wavelength", "2 * d * sin(theta) / n", ("d", *POSITIVE), ("theta", 0.1, 1.4), ("n", 1.0, 3.0)),
    _f("intensity at a distance", "P / (4 * pi * r**2)", ("P", *POSITIVE), ("r", *POSITIVE)),
    _f("Malus's law", "I0 * cos(theta)**2", ("I0", *POSITIVE), ("theta", -1.5, 1.5)),
    _f("Fresnel reflectance", "((n1 - n2) / (n1 + n2))**2", ("n1", 1.0, 1.2), ("n2", 1.4, 1.6)),
    # quantum and atomic
    _f("photon energy", "h * c / lam", ("h", *POSITIVE), ("c", *POSITIVE), ("lam", *POSITIVE)),
    _f("hydrogen levels", "-13.6 * Z**2 / n**2", ("Z", 1.0, 3.0), ("n", 1.0, 4.0)),
    _f("particle in a box", "n**2 * h**2 / (8 * m * L**2)", ("n", 1.0, 4.0), ("h", *POSITIVE), ("m", *POSITIVE),
       ("L", *POSITIVE)),
    _f("de Broglie wavelength", "h / sqrt(2 * m * E)", ("h", *POSITIVE), ("m", *POSITIVE), ("E", *POSITIVE)),
    _f("tunnelling probability", "exp(-2 * L * sqrt(2 * m * (V - E)) / hbar)", ("L", *POSITIVE),
       ("m", *POSITIVE), ("V", 3.0, 4.0), ("E", *POSITIVE), ("hbar", *POSITIVE)),
    _f("harmonic oscillator ground state", "(m * w / (pi * hbar))**0.25 * exp(-m * w * x**2 / (2 * hbar))",
       ("m", *POSITIVE), ("w", *POSITIVE), ("hbar", *POSITIVE), ("x", -2.0, 2.0)),
    # statistics, finance, biology
    _f("Gaussian pdf", "exp(-(x - mu)**2 / (2 * s**2)) / (s * sqrt(2 * pi))", ("x", -3.0, 3.0),
       ("mu", -1.0, 1.0), ("s", *POSITIVE)),
    _f("log-normal pdf", "exp(-(log(x) - mu)**2 / (2 * s**2)) / (x * s * sqrt(2 * pi))", ("x", *POSITIVE),
       ("mu", -1.0, 1.0), ("s", *POSITIVE)),
    _f("logistic function", "L / (1 + exp(-k * (x - x0)))", ("L", *POSITIVE), ("k", *POSITIVE), ("x", -3.0, 3.0),
       ("x0", -1.0, 1.0)),
    _f("logistic growth", "K * P0 * exp(r * t) / (K + P0 * (exp(r * t) - 1))", ("K", 5.0, 10.0), ("P0", *POSITIVE),
       ("r", *POSITIVE), ("t", *POSITIVE)),
    _f("Black-Scholes d1", "(log(S / K) + (r + s**2 / 2) * T) / (s * sqrt(T))", ("S", *POSITIVE), ("K", *POSITIVE),
       ("r", 0.0, 0.1), ("s", 0.1, 0.5), ("T", *POSITIVE)),
    _f("Black-Scholes d2", "(log(S / K) + (r - s**2 / 2) * T) / (s * sqrt(T))", ("S", *POSITIVE), ("K", *POSITIVE),
       ("r", 0.0, 0.1), ("s", 0.1, 0.5), ("T", *POSITIVE)),
    _f("compound interest", "P * (1 + r / n)**(n * t)", ("P", *POSITIVE), ("r", 0.01, 0.1), ("n", 1.0, 12.0),
       ("t", *POSITIVE)),
    _f("Michaelis-Menten", "Vmax * S / (Km + S)", ("Vmax", *POSITIVE), ("S", *POSITIVE), ("Km", *POSITIVE)),
    _f("Hill equation", "S**n / (K**n + S**n)", ("S", *POSITIVE), ("K", *POSITIVE), ("n", 1.0, 4.0)),
    _f("Cauchy pdf", "1 / (pi * g * (1 + ((x - x0) / g)**2))", ("x", -3.0, 3.0), ("x0", -1.0, 1.0),
       ("g", *POSITIVE)),
    _f("Euclidean distance", "sqrt((x1 - x2)**2 + (y1 - y2)**2)", ("x1", 2.0, 3.0), ("x2", -1.0, 1.0),
       ("y1", 2.0, 3.0), ("y2", -1.0, 1.0)),
)
"""The corpus: at least 50 formulas, each differentiated with respect to all of its variables."""
