"""The public API, listed once: type checkers and IDEs read these imports (``X as X`` marks a re-export),
and ``lazy_loader`` reads them to load each name on first use (see ``__init__.py``)."""

from .data.dataset import (
    Dataset as Dataset,
)
from .data.examples import (
    example_dataset as example_dataset,
)
from .data.examples import (
    example_features as example_features,
)
from .errors import (
    ConfigError as ConfigError,
)
from .errors import (
    DataError as DataError,
)
from .errors import (
    LearnsimError as LearnsimError,
)
from .errors import (
    OutsideTrainingRangeWarning as OutsideTrainingRangeWarning,
)
from .errors import (
    SchemaError as SchemaError,
)
from .errors import (
    SimulationInputError as SimulationInputError,
)
from .errors import (
    StoreError as StoreError,
)
from .errors import (
    TrainingError as TrainingError,
)
from .features import (
    FeatureSchema as FeatureSchema,
)
from .features import (
    Input as Input,
)
from .features import (
    Output as Output,
)
from .models import (
    MODEL_FAMILIES as MODEL_FAMILIES,
)
from .models import (
    LinearConfig as LinearConfig,
)
from .models import (
    MLPConfig as MLPConfig,
)
from .models import (
    RNNConfig as RNNConfig,
)
from .models import (
    SimulatorModel as SimulatorModel,
)
from .models import (
    SSMConfig as SSMConfig,
)
from .models import (
    TransformerConfig as TransformerConfig,
)
from .models import (
    model_from_config as model_from_config,
)
from .models import (
    parse_model_config as parse_model_config,
)
from .simulate import (
    SimulationResult as SimulationResult,
)
from .simulate import (
    simulate as simulate,
)
from .store.datasets import (
    delete_dataset as delete_dataset,
)
from .store.datasets import (
    list_datasets as list_datasets,
)
from .store.datasets import (
    load_dataset as load_dataset,
)
from .store.datasets import (
    save_dataset as save_dataset,
)
from .store.models import (
    list_models as list_models,
)
from .store.models import (
    load_model as load_model,
)
from .train import (
    AdamWConfig as AdamWConfig,
)
from .train import (
    CosineAnnealingWarmRestartsConfig as CosineAnnealingWarmRestartsConfig,
)
from .train import (
    CosineDecayWithWarmupConfig as CosineDecayWithWarmupConfig,
)
from .train import (
    RolloutConfig as RolloutConfig,
)
from .train import (
    RunConfig as RunConfig,
)
from .train import (
    SGDConfig as SGDConfig,
)
from .train import (
    TorchOptimizerConfig as TorchOptimizerConfig,
)
from .train import (
    TorchSchedulerConfig as TorchSchedulerConfig,
)
from .train import (
    TrainingConfig as TrainingConfig,
)
from .train import (
    TrainResult as TrainResult,
)
from .train import (
    load_run_config as load_run_config,
)
from .train import (
    resume as resume,
)
from .train import (
    train_model as train_model,
)
from .tune import (
    AdamWOptConfig as AdamWOptConfig,
)
from .tune import (
    CosineAnnealingWarmRestartsOptConfig as CosineAnnealingWarmRestartsOptConfig,
)
from .tune import (
    CosineDecayWithWarmupOptConfig as CosineDecayWithWarmupOptConfig,
)
from .tune import (
    MLPOptConfig as MLPOptConfig,
)
from .tune import (
    OptimizationConfig as OptimizationConfig,
)
from .tune import (
    RNNOptConfig as RNNOptConfig,
)
from .tune import (
    SearchConfig as SearchConfig,
)
from .tune import (
    SGDOptConfig as SGDOptConfig,
)
from .tune import (
    TransformerOptConfig as TransformerOptConfig,
)
from .tune import (
    optimize_model as optimize_model,
)

__version__: str
