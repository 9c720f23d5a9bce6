"""DNA domain: a small sequence toolkit (complement, transcription, translation, motifs, GC content).

Translation uses the standard genetic code (NCBI table 1); stop codons are written *.
"""

from __future__ import annotations

import itertools

import numpy as np

from selfgym.tools import ToolError, ToolSet

NAME = "dna"
DESCRIPTION = "a DNA sequence toolkit"

_BASES = "TCAG"
_AMINO = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"
CODON_TABLE = {"".join(c): a for c, a in zip(itertools.product(_BASES, repeat=3), _AMINO)}
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _dna(seq: str) -> str:
    s = "".join(seq.split()).upper().replace("U", "T")
    bad = sorted(set(s) - set("ACGT"))
    if bad:
        raise ToolError(f"a sequence may hold only A, C, G, T (or U); found {''.join(bad)!r}")
    return s


def reverse_complement(seq: str) -> str:
    """The reverse complement of a DNA sequence (A<->T, C<->G, read backwards).

    Args:
        seq: DNA letters A, C, G, T.
    """
    return _dna(seq).translate(_COMPLEMENT)[::-1]


def transcribe(seq: str) -> str:
    """The mRNA transcribed from a coding-strand DNA sequence (T becomes U).

    Args:
        seq: DNA letters A, C, G, T.
    """
    return _dna(seq).replace("T", "U")


def translate(seq: str, to_stop: bool = True) -> str:
    """Translate DNA or RNA codon by codon from the first base into one-letter amino acids.

    Args:
        seq: DNA or RNA; trailing bases that do not fill a codon are ignored.
        to_stop: stop at the first stop codon (not included); otherwise write stops as '*'.
    """
    s = _dna(seq)
    protein = []
    for i in range(0, len(s) - 2, 3):
        amino = CODON_TABLE[s[i:i + 3]]
        if amino == "*" and to_stop:
            break
        protein.append(amino)
    return "".join(protein)


def gc_content(seq: str) -> float:
    """Percentage of G and C bases in the sequence (2 decimals).

    Args:
        seq: DNA or RNA.
    """
    s = _dna(seq)
    if not s:
        raise ToolError("the sequence is empty")
    return round(100 * sum(b in "GC" for b in s) / len(s), 2)


def count_motif(seq: str, motif: str) -> int:
    """How many times motif occurs in seq, overlapping matches included.

    Args:
        seq: DNA or RNA.
        motif: the subsequence to count.
    """
    s, m = _dna(seq), _dna(motif)
    if not m:
        raise ToolError("the motif is empty")
    return sum(1 for i in range(len(s) - len(m) + 1) if s.startswith(m, i))


def find_motif(seq: str, motif: str) -> list[int]:
    """1-based start positions of every occurrence of motif in seq (overlaps included).

    Args:
        seq: DNA or RNA.
        motif: the subsequence to find.
    """
    s, m = _dna(seq), _dna(motif)
    if not m:
        raise ToolError("the motif is empty")
    return [i + 1 for i in range(len(s) - len(m) + 1) if s.startswith(m, i)]


def toolset() -> ToolSet:
    return ToolSet([reverse_complement, transcribe, translate, gc_content, count_motif, find_motif])


# ------------------------------------------------------------------------------ templates
def _random_seq(rng: np.random.Generator, n: int) -> str:
    return "".join("ACGT"[int(i)] for i in rng.integers(0, 4, size=n))


def _gene(rng: np.random.Generator, codons: int) -> str:
    body = []
    while len(body) < codons:
        codon = _random_seq(rng, 3)
        if CODON_TABLE[codon] != "*":
            body.append(codon)
    return "ATG" + "".join(body) + ("TAA", "TAG", "TGA")[int(rng.integers(3))]


def antisense_protein(rng: np.random.Generator, call) -> tuple[str, str, str]:
    gene = _gene(rng, int(rng.integers(5, 12)))
    given = _random_seq(rng, 4) + gene.translate(_COMPLEMENT)[::-1]
    answer = call("translate", seq=call("reverse_complement", seq=given))
    prompt = (f"The sequence {given} is written on the template strand. Take its reverse complement and "
              "translate it from the first base up to the first stop codon. What protein (one-letter codes) "
              "do you get?")
    return prompt, answer, "exact"


def motif_on_other_strand(rng: np.random.Generator, call) -> tuple[str, int, str]:
    seq = _random_seq(rng, int(rng.integers(30, 60)))
    motif = _random_seq(rng, 2)
    answer = call("count_motif", seq=call("reverse_complement", seq=seq), motif=motif)
    prompt = (f"How many times (overlaps included) does the motif {motif} occur in the reverse complement of "
              f"{seq}?")
    return prompt, answer, "number"


def gc_gap(rng: np.random.Generator, call) -> tuple[str, float, str]:
    a, b = _random_seq(rng, int(rng.integers(20, 40))), _random_seq(rng, int(rng.integers(20, 40)))
    ga, gb = call("gc_content", seq=a), call("gc_content", seq=b)
    answer = round(abs(ga - gb), 2)
    prompt = (f"Sequence A is {a} and sequence B is {b}. By how many percentage points do their GC contents "
              "differ (each rounded to 2 decimals first; give the absolute difference)?")
    return prompt, answer, "number"


def mrna_codons(rng: np.random.Generator, call) -> tuple[str, int, str]:
    gene = _gene(rng, int(rng.integers(6, 15)))
    rna = call("transcribe", seq=gene)
    answer = len(call("translate", seq=rna))
    prompt = (f"Transcribe the coding strand {gene} into mRNA and translate it up to the first stop codon. How "
              "many amino acids long is the protein?")
    return prompt, answer, "number"


def last_motif_position(rng: np.random.Generator, call) -> tuple[str, int, str]:
    motif = _random_seq(rng, 3)
    seq = _random_seq(rng, int(rng.integers(10, 20))) + motif.translate(_COMPLEMENT)[::-1] + _random_seq(rng, 12)
    positions = call("find_motif", seq=call("reverse_complement", seq=seq), motif=motif)
    prompt = (f"In the reverse complement of {seq}, at which 1-based position does the last occurrence of the "
              f"motif {motif} start?")
    return prompt, positions[-1], "number"


TEMPLATES = [antisense_protein, motif_on_other_strand, gc_gap, mrna_codons, last_motif_position]
