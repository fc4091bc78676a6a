# Inputs: downloads under resources/ (local rules, resumable, verified), generated and
# prepared data under results/data/.


localrules:
    fetch_image,
    fetch_coco,
    fetch_vgg,
    fetch_ort_web,


rule fetch_image:
    output:
        "resources/images/{pinned}.jpg",
    log:
        "results/logs/fetch_image/{pinned}.log",
    conda:
        ARST_ENV
    shell:
        logged("arst fetch-image {wildcards.pinned} --out {output}")


rule fetch_coco:
    output:
        directory("resources/coco/train2014"),
    log:
        "results/logs/fetch_coco.log",
    conda:
        ARST_ENV
    params:
        url=config["content"]["coco_url"],
    shell:
        logged("arst fetch-coco --out resources/coco --url {params.url}")


rule fetch_vgg:
    output:
        f"{TORCH_HOME}/hub/checkpoints/{{arch}}-{{hash}}.pth",
    log:
        "results/logs/fetch_vgg/{arch}-{hash}.log",
    conda:
        ARST_ENV
    shell:
        logged(f"arst fetch-vgg --arch {{wildcards.arch}} --torch-home {TORCH_HOME}")


# onnxruntime-web, which the explorer in the browser vendors (sweep.smk): only that target asks
# for it, so the default pipeline runs offline.
rule fetch_ort_web:
    output:
        ORT_WEB_TARBALL,
    log:
        "results/logs/fetch_ort_web.log",
    conda:
        ARST_ENV
    shell:
        logged("arst fetch-ort-web --out {output}")


rule sample_photos:
    output:
        directory("results/data/photos"),
    log:
        "results/logs/sample_photos.log",
    conda:
        ARST_ENV
    params:
        names=shlex.join(config["content"]["photos"]),
    shell:
        logged("arst sample-photos --out {output} {params.names}")


rule source_image:
    output:
        "results/data/{kind}/{name}.png",
    log:
        "results/logs/source_image/{kind}_{name}.log",
    conda:
        ARST_ENV
    params:
        command=image_command,
    shell:
        logged("{params.command} {output}")


rule prepare_content:
    input:
        content_input,
    output:
        cache="results/data/content-{size}px.npy",
        listing="results/data/content-{size}px.json",
    log:
        "results/logs/prepare_content/{size}px.log",
    conda:
        ARST_ENV
    shell:
        logged(
            "arst prepare --content {input} --out {output.cache} --size {wildcards.size}"
        )
