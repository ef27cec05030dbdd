"""The question bank: documents (corpus) -> question cards (extract) with reviewed notes (notes,
keypoints), embedded (embedding) into Chroma (vectors) and BM25 (bm25), searched and served by bank."""
