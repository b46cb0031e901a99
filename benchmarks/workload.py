"""What the serving benchmarks send: one fixed review, and real test reviews of mixed length. Not a script.

    from benchmarks.workload import REVIEW, real_reviews
    real_reviews(500)          # a seeded sample of the IMDB test split (../shared/imdb), same on every call
"""

from __future__ import annotations

from data.review_samples import IMDB_TEST, sample_reviews

# A typical IMDB review: 233 words, 266 tokens with the committed tokenizer, near the test split's median length.
REVIEW = (
    "I went into this film with modest expectations, having heard mixed things from friends, and I came out "
    "pleasantly surprised. The story follows a retired schoolteacher who returns to the small coastal town where "
    "she grew up, hoping to sell her late brother's house and leave as quickly as possible. Of course, things do "
    "not go according to plan. The town is full of eccentric characters, old grudges and a few secrets that the "
    "script reveals at a patient, well judged pace. The lead performance is the heart of the movie: subtle, dry, "
    "often funny and occasionally heartbreaking without ever begging for tears. The supporting cast is uneven; the "
    "local mayor is played far too broadly, and a subplot about a missing fishing boat goes nowhere. The "
    "photography, on the other hand, is gorgeous, with grey skies and long shots of the harbour that say more "
    "about loneliness than any of the dialogue. The music is sparse and used well. At nearly two hours the film is "
    "perhaps twenty minutes too long, and the final act leans on a coincidence that I found hard to swallow. Still, "
    "these are small complaints about a warm, intelligent and beautifully acted drama that trusts its audience. It "
    "is the kind of quiet movie that rarely gets made any more, and I would happily watch it again. Recommended, "
    "especially if you enjoy character studies more than plot."
)


def real_reviews(n: int, seed: int = 0) -> list[str]:
    return sample_reviews(IMDB_TEST, n, seed)
